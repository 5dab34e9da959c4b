"""`erbench evaluate --set`: re-decode a trained model with other decoding options (thresholds, SpERT.MT's
decision rule); anything that would need training again is refused in one line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from erbench.cli import main

from tests.conftest import tiny_train_args

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def trained_mt(staged, tmp_path_factory):
    root, params = staged
    out = tmp_path_factory.mktemp("runs") / "spert_mt-tiny-s1"
    result = CliRunner().invoke(main, tiny_train_args(root, params, out, "--method", "spert_mt"))
    assert result.exit_code == 0, result.output
    return root, out


def evaluate(root, run, *sets):
    args = ["--quiet", "evaluate", str(run), "--data-root", str(root), "--device", "cpu", "--json"]
    for kv in sets:
        args += ["--set", kv]
    return CliRunner().invoke(main, args)


def test_decoding_options_change_the_predictions_not_the_weights(trained_mt):
    root, run = trained_mt
    plain = evaluate(root, run)
    assert plain.exit_code == 0, plain.output
    plain = json.loads(plain.stdout)
    config = json.loads((run / "config.json").read_text())["run"]["model"]
    assert plain["decoding"] == {"entity_threshold": config["entity_threshold"],
                                 "rel_filter_threshold": config["rel_filter_threshold"], "mt_decision": "id",
                                 "rel_gate": "none", "cb_decision": "weighted"}
    product = evaluate(root, run, "mt_decision=product")
    assert product.exit_code == 0, product.output
    assert json.loads(product.stdout)["decoding"]["mt_decision"] == "product"
    nothing = json.loads(evaluate(root, run, "entity_threshold=1.0").stdout)  # sigmoid(z_id) < 1: no entity
    assert nothing["test/ner/micro_f1"] == 0 and nothing["test/rel_strict/micro_f1"] == 0
    assert plain == json.loads(evaluate(root, run).stdout)  # the run folder is left as it was


def test_options_that_need_training_and_options_the_heads_reject_are_one_line(trained, trained_mt, staged):
    root, _ = staged
    result = evaluate(root, trained_mt[1], "neg_entity_count=5")
    assert result.exit_code == 2 and "'neg_entity_count' is not a decoding option" in result.output
    result = evaluate(root, trained, "mt_decision=product")  # SpERT heads have no identification score
    assert result.exit_code == 2 and "mt_decision" in result.output and "Traceback" not in result.output


def test_rel_gate_is_a_decoding_option_and_cls_needs_a_classifier_with_none(trained_mt):
    root, run = trained_mt
    plain = json.loads(evaluate(root, run).stdout)
    gated = evaluate(root, run, "rel_gate=args")
    assert gated.exit_code == 0, gated.output
    gated = json.loads(gated.stdout)
    assert gated["decoding"]["rel_gate"] == "args"
    assert gated["test/ner/micro_f1"] == plain["test/ner/micro_f1"]  # the gate reads pairs only
    assert gated["test/rel/micro_r"] <= plain["test/rel/micro_r"]  # a gate in (0, 1) only removes triples
    refused = evaluate(root, run, "mt_decision=cls")  # trained with mt_cls_scope gold: no "none" output
    assert refused.exit_code == 2 and "mt_cls_scope" in refused.output and "Traceback" not in refused.output
