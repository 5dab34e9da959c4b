"""`cb_decision: corrected` (erbench.models.decision): the class-balanced baseline decoded with the weights'
prior shift removed (logit adjustment, Menon et al. 2021; docs/methods.md, "Class-balanced decision")."""

from __future__ import annotations

import math

import pytest
import torch
from erbench.models.decision import cb_offsets, corrected, entity_offsets, relation_offsets, simple_relation_offsets
from erbench.models.heads import SpertHeads
from erbench.models.losses import class_balanced_weights
from erbench.models.options import ConfigError, ModelOptions

CB = ModelOptions(loss="class_balanced")
# CoNLL04 train_dev, one epoch at SPEC's sampling: [expected negative pairs, Work_For, Kill, OrgBased_In,
# Live_In, Located_In] (erbench.models.sampling.class_counts of conll04_train_dev.json; docs/methods.md)
CONLL04_RELATION_COUNTS = [12926.0, 325.0, 221.0, 347.0, 421.0, 312.0]
CORRECTED = ModelOptions(loss="class_balanced", cb_decision="corrected")


def _decide(ent_logits, rel_logits, offsets=None, options=CB):
    ent = {"logits": ent_logits}
    rel = {"logits": rel_logits}
    if offsets is not None:
        ent, rel = corrected(ent, offsets["entity"]), corrected(rel, offsets["relation"])
    is_entity, ent_type = SpertHeads.decide_entities(ent, options)
    rows, rel_type = SpertHeads.decide_relations(rel, options)
    return is_entity.tolist(), ent_type.tolist(), list(zip(rows.tolist(), rel_type.tolist()))


# -- the option ------------------------------------------------------------------------------------------
def test_corrected_needs_the_class_balanced_loss():
    assert ModelOptions().cb_decision == "weighted"
    with pytest.raises(ConfigError, match="cb_decision=corrected undoes the class weights of loss class_balanced; "
                                          "this model's loss is 'ce'"):
        ModelOptions(cb_decision="corrected")
    with pytest.raises(ConfigError, match="cb_decision: expected one of weighted, corrected"):
        ModelOptions(loss="class_balanced", cb_decision="prior")


# -- (1) all weights 1: the identity ------------------------------------------------------------------------
def test_with_all_weights_one_corrected_decides_as_weighted():
    gen = torch.Generator().manual_seed(0)
    ent_logits, rel_logits = torch.randn(500, 4, generator=gen) * 3, torch.randn(300, 5, generator=gen) * 3
    counts = {"entity": [900.0, 40.0, 30.0, 5.0], "relation": [400.0, 20.0, 10.0, 3.0, 1.0, 7.0]}
    ones = {"entity": [1.0] * 4, "relation": [1.0] * 6}
    offsets = cb_offsets(counts, ones)
    assert torch.equal(offsets["entity"], torch.zeros(4)) and torch.equal(offsets["relation"], torch.zeros(5))
    assert _decide(ent_logits, rel_logits, offsets, CORRECTED) == _decide(ent_logits, rel_logits)


# -- (3) a hand-made batch: exact decisions ----------------------------------------------------------------
def test_hand_made_batch_exact_offsets_and_decisions():
    counts = {"entity": [100.0, 10.0, 10.0], "relation": [60.0, 30.0, 10.0]}
    weights = {"entity": [0.5, 2.0, 1.0], "relation": [0.25, 1.0, 2.0]}
    offsets = cb_offsets(counts, weights)
    assert offsets["entity"].tolist() == pytest.approx([math.log(0.5), math.log(2.0), 0.0])
    # type 1's negatives: 60 none pairs at 0.25 and 10 type-2 pairs at 2.0 -> w_neg = (15 + 20) / 70 = 0.5
    # type 2's negatives: 60 none pairs at 0.25 and 30 type-1 pairs at 1.0 -> w_neg = (15 + 30) / 90 = 0.5
    assert offsets["relation"].tolist() == pytest.approx([math.log(1.0 / 0.5), math.log(2.0 / 0.5)])
    assert simple_relation_offsets(weights["relation"]).tolist() == pytest.approx([math.log(4.0), math.log(8.0)])
    ent_logits = torch.tensor([[0.0, 0.5, 0.1],    # weighted: type 0; corrected [0.69, -0.19, 0.1]: none
                               [0.0, 1.5, 0.1],    # weighted: type 0; corrected [0.69, 0.81, 0.1]: type 0
                               [1.0, 0.2, 0.6],    # weighted: none; corrected [1.69, -0.49, 0.6]: none
                               [0.0, 0.9, 0.95]])  # weighted: type 1; corrected [0.69, 0.21, 0.95]: type 1
    # sigmoid >= 0.4 <=> logit >= -0.405; corrected logits: z - [0.693, 1.386]
    rel_logits = torch.tensor([[0.5, 1.0],    # weighted: both; corrected [-0.19, -0.39]: both
                               [0.2, 0.9],    # weighted: both; corrected [-0.49, -0.49]: none
                               [1.0, 1.5]])   # weighted: both; corrected [0.31, 0.11]: both
    assert _decide(ent_logits, rel_logits) == ([True, True, False, True], [0, 0, -1, 1],
                                               [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)])
    assert _decide(ent_logits, rel_logits, offsets, CORRECTED) == ([False, True, False, True], [-1, 0, -1, 1],
                                                                   [(0, 0), (0, 1), (2, 0), (2, 1)])


def test_class_without_training_samples_gets_no_shift():
    assert entity_offsets([0.5, 0.0, 2.0]).tolist() == pytest.approx([math.log(0.5), 0.0, math.log(2.0)])
    assert relation_offsets([10.0, 0.0, 5.0], [0.5, 0.0, 1.5]).tolist() == pytest.approx([0.0, math.log(1.5 / 0.5)])


def test_mixture_against_the_simple_form_on_conll04_counts():
    """CoNLL04 train_dev's one-epoch relation counts at SPEC's sampling (neg_relation_count 100, `erbench data
    stats`-style counts of `class_counts`; docs/methods.md quotes the same numbers): the simple form
    log(w_t / w_none) overstates each type's shift by log(w_neg(t) / w_none)."""
    counts = CONLL04_RELATION_COUNTS
    weights = class_balanced_weights(counts, 0.9999).tolist()
    mixture, simple = relation_offsets(counts, weights), simple_relation_offsets(weights)
    n = torch.tensor(counts, dtype=torch.float64)
    w = torch.tensor(weights, dtype=torch.float64)
    for t in range(1, len(counts)):
        keep = torch.arange(len(counts)) != t
        w_neg = float((n[keep] * w[keep]).sum() / n[keep].sum())
        assert float(simple[t - 1] - mixture[t - 1]) == pytest.approx(math.log(w_neg / weights[0]))
        assert float(simple[t - 1] - mixture[t - 1]) > 0.5  # far beyond noise: the other types' pairs matter


# -- (2) simulation: known priors, weighted vs unweighted training -----------------------------------------
PRIORS = (0.90, 0.07, 0.03)  # "none" and two types, as skewed as span and pair candidates
MEANS = ((0.0, 0.0), (2.0, 0.5), (0.5, 2.0))


def _gaussian_classes(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    y = torch.multinomial(torch.tensor(PRIORS), n, replacement=True, generator=gen)
    x = torch.tensor(MEANS)[y] + torch.randn(n, 2, generator=gen)
    return x, y


def _fit(x: torch.Tensor, loss_fn, n_out: int) -> torch.nn.Linear:
    """A linear model fitted to convergence (full-batch L-BFGS from zeros: deterministic)."""
    model = torch.nn.Linear(2, n_out).double()
    torch.nn.init.zeros_(model.weight)
    torch.nn.init.zeros_(model.bias)
    opt = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=500, tolerance_grad=1e-10,
                            tolerance_change=1e-14, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = loss_fn(model(x))
        loss.backward()
        return loss

    opt.step(closure)
    return model


def _problem():
    x, y = _gaussian_classes(40_000, seed=1)
    x_test, _ = _gaussian_classes(40_000, seed=2)
    counts = torch.bincount(y, minlength=3).tolist()
    weights = class_balanced_weights(counts, 0.9999)  # SPEC 5's beta: weights about 1 : 4 : 8
    return x.double(), y, x_test.double(), counts, weights.double()


def _fits(loss_of):
    """(unweighted, unweighted on an independent training sample: the noise, weighted) models;
    `loss_of(y, sample_weight)` -> the loss of the logits."""
    x, y, x_test, counts, w = _problem()
    x2, y2 = _gaussian_classes(40_000, seed=3)
    n_out = 3 if loss_of is _softmax_loss else 2
    plain = _fit(x, loss_of(y, torch.ones(3, dtype=torch.float64)), n_out)
    again = _fit(x2.double(), loss_of(y2, torch.ones(3, dtype=torch.float64)), n_out)
    weighted = _fit(x, loss_of(y, w), n_out)
    offsets = cb_offsets({"entity": counts, "relation": counts}, {"entity": w.tolist(), "relation": w.tolist()})
    with torch.no_grad():
        return plain(x_test), again(x_test), weighted(x_test), offsets, w


def _softmax_loss(y, w):  # SPEC 5, entity side: each sample's CE times its class weight, then the mean
    return lambda z: (torch.nn.functional.cross_entropy(z, y, reduction="none") * w[y]).mean()


def _sigmoid_loss(y, w):  # SPEC 5, relation side: BCE per type, mean over types, times the class weight
    target = torch.nn.functional.one_hot(y, 3)[:, 1:].double()  # "none" is the all-zero target
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    return lambda z: (bce(z, target, reduction="none").mean(-1) * w[y]).mean()


def test_simulation_softmax_corrected_recovers_the_unweighted_decisions():
    """Entity form: a linear softmax trained with weighted CE and decoded with `corrected` agrees with the
    unweighted model's argmax as well as an unweighted model fitted on an independent sample does (both
    fit the Bayes posterior, exactly linear here: measured 0.9996 against 0.9974); decoded as trained
    it agrees far less (0.90: 2.8x as many spans leave "none")."""
    plain, again, weighted, offsets, _ = _fits(_softmax_loss)
    reference = plain.argmax(-1)
    noise = (again.argmax(-1) == reference).double().mean().item()
    as_trained = weighted.argmax(-1)
    undone = corrected({"logits": weighted}, offsets["entity"])["logits"].argmax(-1)
    assert (as_trained == reference).double().mean().item() < 0.93
    assert (undone == reference).double().mean().item() >= noise - 0.002  # within the fits' noise
    assert (as_trained > 0).sum() > 2 * (reference > 0).sum()
    assert abs(int((undone > 0).sum()) - int((reference > 0).sum())) < 0.02 * int((reference > 0).sum())


def test_simulation_sigmoid_corrected_recovers_most_of_the_unweighted_decisions():
    """Relation form: R linear sigmoids trained with weighted BCE, decided at SPEC's 0.4. `corrected`
    recovers most of the gap to the unweighted model's decisions (measured: agreement 0.983; as trained
    0.898; two unweighted fits 0.997) but not all of it: the shift is exact only where the negatives'
    mix of classes is the training mix (and the one-vs-rest logit is not linear in x, so neither fit is
    the pointwise optimum); here it predicts about 20% fewer pairs than the unweighted model
    (docs/methods.md, "Class-balanced decision")."""
    plain, again, weighted, offsets, w = _fits(_sigmoid_loss)

    def decisions(logits):
        return torch.sigmoid(logits) >= 0.4

    reference = decisions(plain)

    def agreement(logits):  # the same set of types for a pair
        return (decisions(logits) == reference).all(-1).double().mean().item()

    noise, as_trained = agreement(again), agreement(weighted)
    undone = agreement(corrected({"logits": weighted}, offsets["relation"])["logits"])
    assert as_trained < 0.93 and noise > 0.99
    assert undone > 0.98 and undone - as_trained > 0.8 * (noise - as_trained)
    assert decisions(weighted).sum() > 2 * reference.sum()
    kept = int(decisions(corrected({"logits": weighted}, offsets["relation"])["logits"]).sum())
    assert abs(kept - int(reference.sum())) < 0.25 * int(reference.sum())


# -- (4) a saved checkpoint re-decoded ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def cb_run(tmp_path_factory):
    """A SpERT + CB checkpoint trained on synthetic train, scored on test (and its data root)."""
    from tests.test_rescore import train_tiny_run

    return train_tiny_run(tmp_path_factory.mktemp("cb"), "spert_cb")


def _cli(*args: str):
    from click.testing import CliRunner
    from erbench.cli import main

    return CliRunner().invoke(main, ["--quiet", *args])


def test_evaluate_set_cb_decision_corrected_writes_a_variant_run(cb_run, tmp_path):
    import json

    from erbench.report import build_report
    from erbench.runner import load_checkpoint

    from tests.test_report import FAST

    run, data_root = cb_run
    recorded = json.loads((run / "metrics.json").read_text())["data"]
    model = load_checkpoint(run, "cpu")[0]
    expected = cb_offsets(recorded["class_counts"], recorded["class_weights"])
    assert all(torch.equal(model.cb_offsets[k], expected[k]) for k in expected)  # the run's own weights
    assert float(expected["entity"].abs().max()) > 0.5  # a real shift, not the identity
    plain, undone = tmp_path / "plain", tmp_path / "corrected"
    assert _cli("evaluate", str(run), "--data-root", str(data_root), "--out-run", str(plain)).exit_code == 0
    result = _cli("evaluate", str(run), "--data-root", str(data_root), "--set", "cb_decision=corrected",
                  "--out-run", str(undone), "--out", str(tmp_path / "flat.json"))
    assert result.exit_code == 0, result.output
    flat = json.loads((tmp_path / "flat.json").read_text())
    assert flat["decoding"]["cb_decision"] == "corrected"
    metrics = json.loads((undone / "metrics.json").read_text())
    assert metrics["run"]["method"] == "spert_cb+cb_decision=corrected" and metrics["run"]["base_method"] == "spert_cb"
    assert metrics["protocol"]["choice_set"] == {"cb_decision": "corrected"}
    assert metrics["protocol"]["interpretation"] == "cb_decision=corrected"
    assert metrics["rescored_from"]["set"] == {"cb_decision": "corrected"}
    assert metrics["data"]["class_weights"] == recorded["class_weights"]  # a re-decoded run can be re-decoded
    config = json.loads((undone / "config.json").read_text())
    assert config["run"]["model"]["cb_decision"] == "corrected"
    weighted = json.loads((plain / "metrics.json").read_text())
    assert weighted["run"]["method"] == "spert_cb"
    # the corrected decision predicts fewer entities than the weighted one on these weights ("none" < types)
    count = [sum(len(json.loads(line)["pred"]["entities"]) for line in (folder / "predictions.jsonl").open())
             for folder in (plain, undone)]
    assert count[1] < count[0]
    stats = build_report([plain, undone], tmp_path / "report", **FAST)
    assert {row["variant"] for row in stats["interpretation_sensitivity"]} == {"spert_cb+cb_decision=corrected"}
    assert "| SpERT + CB (cb_decision=corrected) |" in (tmp_path / "report" / "results.md").read_text()


def test_evaluate_refuses_corrected_without_class_weights(cb_run, tmp_path):
    """One line, exit 2, nothing written: a run whose loss is not class_balanced (the same weights read as
    a CE run), and a CB run whose metrics.json lost its class weights."""
    import json
    import shutil

    run, data_root = cb_run
    as_ce = tmp_path / "as-ce"
    shutil.copytree(run, as_ce)
    config = json.loads((as_ce / "config.json").read_text())
    config["run"]["model"]["loss"] = "ce"
    (as_ce / "config.json").write_text(json.dumps(config))
    result = _cli("evaluate", str(as_ce), "--data-root", str(data_root), "--set", "cb_decision=corrected",
                  "--out-run", str(tmp_path / "out"))
    assert result.exit_code == 2 and "--set: cb_decision=corrected undoes the class weights of loss " \
        "class_balanced; this model's loss is 'ce'" in result.output
    assert not (tmp_path / "out").exists()
    bare = tmp_path / "bare"
    shutil.copytree(run, bare)
    metrics = json.loads((bare / "metrics.json").read_text())
    metrics["data"]["class_weights"] = None
    (bare / "metrics.json").write_text(json.dumps(metrics))
    result = _cli("evaluate", str(bare), "--data-root", str(data_root), "--set", "cb_decision=corrected",
                  "--out-run", str(tmp_path / "out"))
    assert result.exit_code == 2 and f"{bare / 'metrics.json'}: records no class weights" in result.output
    assert not (tmp_path / "out").exists()


def test_calibrate_tunes_on_the_corrected_decision(cb_run, tmp_path):
    """A corrected run calibrated on dev: its SPEC-threshold dev scores are those `evaluate --split dev`
    gives with cb_decision=corrected, not the weighted decision's."""
    import json

    run, data_root = cb_run
    undone = tmp_path / "corrected"
    assert _cli("evaluate", str(run), "--data-root", str(data_root), "--set", "cb_decision=corrected",
                "--out-run", str(undone)).exit_code == 0
    result = _cli("calibrate", str(undone), "--dev-split", "dev", "--data-root", str(data_root),
                  "--out", str(tmp_path / "tuned"))
    assert result.exit_code == 0, result.output
    tuned = json.loads((tmp_path / "tuned" / "metrics.json").read_text())
    assert tuned["run"]["method"] == "spert_cb+cb_decision=corrected+devthr"
    on_dev = {}
    for decision in ("weighted", "corrected"):
        out = tmp_path / f"{decision}.json"
        assert _cli("evaluate", str(run), "--data-root", str(data_root), "--split", "dev", "--set",
                    f"cb_decision={decision}", "--out", str(out)).exit_code == 0
        on_dev[decision] = json.loads(out.read_text())
    spec_scores = tuned["thresholds"]["spec_scores"]
    assert spec_scores["ner"] == pytest.approx(on_dev["corrected"]["dev/ner/micro_f1"])
    assert spec_scores["ner"] != pytest.approx(on_dev["weighted"]["dev/ner/micro_f1"])


def test_trained_with_corrected_is_the_same_training_decoded_corrected(cb_run, tmp_path):
    """`cb_decision` is decoding only: a run trained with it set has the same weights as the weighted run
    of the same seed, and decodes its eval split as `evaluate --set cb_decision=corrected` does."""
    import json

    from tests.test_rescore import TRAIN

    run, data_root = cb_run
    trained = tmp_path / "spert_cb-corrected-s1"
    result = _cli("train", "--dataset", "synthetic", "--method", "spert_cb", "--seed", "1", *TRAIN,
                  "--set", "cb_decision=corrected", "--dev-split", "none", "--data-root", str(data_root),
                  "--out", str(trained))
    assert result.exit_code == 0, result.output
    assert (trained / "model.safetensors").read_bytes() == (run / "model.safetensors").read_bytes()
    rescored = tmp_path / "rescored"
    assert _cli("evaluate", str(run), "--data-root", str(data_root), "--set", "cb_decision=corrected",
                "--out-run", str(rescored)).exit_code == 0
    a, b = (json.loads((f / "metrics.json").read_text()) for f in (trained, rescored))
    assert a["metrics"] == b["metrics"] and a["protocol"]["interpretation"] == "cb_decision=corrected"
    preds = [[json.loads(line)["pred"] for line in (f / "predictions.jsonl").open()] for f in (trained, rescored)]
    assert preds[0] == preds[1]
