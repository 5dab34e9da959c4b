"""Why published comparisons of joint entity/relation extraction fail, made visible (issue 8).

    protocol   the protocol card of a dataset's runs; refuses runs whose protocol differs
    seen       seen / unseen partition of test entities and relations against the training split
               (after Taillé et al. 2021): per-partition sufficient statistics
    errors     entity and relation error kinds of one run's predictions
    seeds      power of the paired test, seeds needed for a 1-point gap, expected max over k seeds

Pure functions over documents, run protocols and score arrays; nothing here reads run folders or
writes files (benchmark.report does both).
"""
