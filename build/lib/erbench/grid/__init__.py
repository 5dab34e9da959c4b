"""The grid: dvc.yaml's train stages run in parallel on a Ray cluster (or local processes).

`pipeline` asks DVC what the grid is and what is stale and commits finished stages; `worker`
runs one stage's own command in scratch space; `executors` put workers on a cluster; `driver`
ties them together (plan, submit, install, commit, log); `view` shows progress; `command` is
`erbench grid run`.
"""
