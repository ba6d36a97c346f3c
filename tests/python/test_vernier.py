"""Vernier et al.'s benchmark (EuroVis 2020): the importer, the published measures (reproducing
the paper's table from its own projections) and their place in eval.json.

The benchmark lies at ``../shared/benchmarks/vernier-cifar10cnn`` relative to the repository root
(read-only, not part of the package); tests that need it skip when it is absent. The importer's
error handling is tested on small zips made here.
"""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, ttvis_cmd

BENCH = REPO.parent / "shared" / "benchmarks" / "vernier-cifar10cnn"
needs_bench = pytest.mark.skipif(not (BENCH / "cifar10cnn.zip").is_file() or not (BENCH / "published-projections.zip").is_file(),
                                 reason=f"the Vernier et al. cifar10cnn benchmark is not at {BENCH} (../shared/benchmarks/vernier-cifar10cnn)")

#: the benchmark README's table: file in published-projections.zip -> (stab_spearman, NP@1 %, trust@1 %)
PUBLISHED = {
    "VAE_100f_10f_2f_20ep": (0.890, 0.586, 0.989),
    "umap_s4_15p": (0.711, 0.601, 0.981),
    "pca_s4": (0.654, 0.287, 0.956),
    "tsne_s4_30p": (0.642, 0.615, 0.971),
    "umap_s1_15p": (-0.065, 0.659, 0.987),
}


@pytest.fixture(scope="module")
def bench_data():
    """The benchmark's ids and raw float64 [N, 10] softmax vectors of its 30 steps, read from the zip."""
    from ttvis.dynamics.importers import read_vernier

    return read_vernier(BENCH / "cifar10cnn.zip")


@needs_bench
@pytest.mark.parametrize("name", list(PUBLISHED))
def test_published_rows_reproduced(bench_data, name):
    """Our code gives the paper's stab_spearman, NP@1 % and trust@1 % of each of its five
    projections to 3 decimals (columns t0d0,t0d1,t1d0,... = x, y per step; rows matched by id)."""
    from ttvis.dynamics.importers import read_vernier_projection
    from ttvis.metrics.published import published_measures, spat_np, stab_spearman, trust

    ids, high = bench_data
    low = read_vernier_projection(BENCH / "published-projections.zip", f"cifar10cnn-{name}.csv", ids)
    assert low.shape == (30, 1000, 2)
    m = published_measures(high, list(low))
    assert m["k"] == 10
    got = (m["stab_spearman"], m["spat_np"], m["trust"])
    assert np.allclose(got, PUBLISHED[name], atol=5e-4), (name, got)
    if name == "pca_s4":  # the one-measure functions agree with the one-pass one
        assert stab_spearman(high, low) == m["stab_spearman"]
        assert spat_np(high, low) == m["spat_np"] and trust(high, low) == m["trust"]


@needs_bench
def test_published_trust_is_not_sklearns(bench_data):
    """The paper's trust is its notebook's (continuity-like) formula: scikit-learn's
    trustworthiness misses the published VAE row, which is why ``trust`` does not use it."""
    from sklearn.manifold import trustworthiness

    from ttvis.dynamics.importers import read_vernier_projection

    ids, high = bench_data
    low = read_vernier_projection(BENCH / "published-projections.zip", "cifar10cnn-VAE_100f_10f_2f_20ep.csv", ids)
    sk = np.mean([trustworthiness(h, lo, n_neighbors=10) for h, lo in zip(high, low)])
    assert abs(sk - 0.989) > 3e-3


@needs_bench
def test_import_cli_writes_a_canonical_run(tmp_path, cli_env, bench_data):
    """`ttvis import vernier BENCH OUT`: 30 epochs of float32 [1000, 10] softmax vectors, their log
    as predictions, CIFAR-10 labels from the ids, all train, the source and licence in info.json;
    the run scores the paper's VAE row as the zip does; no benchmark file is in the package."""
    from ttvis.dynamics import TrainingDynamics
    from ttvis.dynamics.importers import CIFAR10_CLASSES, read_vernier_projection
    from ttvis.metrics.published import published_measures

    out = tmp_path / "cifar10cnn"
    p = subprocess.run(ttvis_cmd("import", "vernier", str(BENCH), str(out)), capture_output=True, text=True, env=cli_env, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "30 epochs, 1000 samples x 10 dims" in p.stdout
    run = TrainingDynamics(out)
    run.validate()
    assert run.epochs == list(range(1, 31)) and run.n_samples == 1000 and run.dim == 10 and run.task == "classification"
    assert run.classes == CIFAR10_CLASSES and run.test_index.size == 0 and run.train_index.size == 1000
    ids, high = bench_data
    x1 = run.representation(1)
    assert x1.dtype == np.float32 and np.allclose(x1, high[0], atol=1e-7)
    assert np.allclose(run.prediction(30), np.log(high[29]), atol=1e-5)
    assert [run.classes[c] for c in run.labels[:3]] == [i.rsplit("-", 1)[0] for i in ids[:3]]
    assert run.text(0) == ids[0]
    info = json.loads((out / "dataset" / "info.json").read_text())
    assert info["source"]["sha256"].startswith("06c6b3d7") and "licence" in info["source"]
    low = read_vernier_projection(BENCH / "published-projections.zip", "cifar10cnn-VAE_100f_10f_2f_20ep.csv", ids)
    m = published_measures([run.representation(e) for e in run.epochs], list(low))
    assert np.allclose((m["stab_spearman"], m["spat_np"], m["trust"]), PUBLISHED["VAE_100f_10f_2f_20ep"], atol=5e-4)
    package = REPO / "pybackend" / "ttvis"
    assert not [f for f in package.rglob("*") if f.suffix in (".csv", ".zip") or "cifar10cnn" in f.name]


@needs_bench
def test_visualize_accepts_the_run_and_eval_has_published_measures(tmp_path):
    """DVI on epochs 1-3 of the imported run (no model: logistic-regression head) works, and its
    eval.json holds stab_spearman / spat_np / trust on the RAW representations, beside the
    unchanged existing keys."""
    from ttvis.dynamics import TrainingDynamics
    from ttvis.dynamics.importers import import_vernier
    from ttvis.dynamics.results import VisResults
    from ttvis.metrics.published import published_measures
    from ttvis.metrics.report import PUBLISHED_KEYS, TEMPORAL_KEYS
    from ttvis.pipeline import visualize

    out = tmp_path / "cifar10cnn"
    import_vernier(BENCH / "cifar10cnn.zip", out)
    evals = visualize(out, "DVI", {"max_epochs": 3, "first_epochs": 3, "boundary_ratio": 0.0}, epochs="1-3",
                      run={"device": "cpu", "resolution": 32})  # a short fit: the scores, not their quality, are tested
    assert sorted(evals["epochs"]) == ["1", "2", "3"]
    pub = evals["published"]
    run = TrainingDynamics(out)
    res = VisResults(out, "DVI", run.n_samples)
    want = published_measures([run.representation(e) for e in (1, 2, 3)], [res.projection(e) for e in (1, 2, 3)])
    assert pub["samples"] == pub["of"] == 1000 and pub["k"] == 10
    for k in PUBLISHED_KEYS:
        assert pub[k] == pytest.approx(want[k], abs=1e-12)
        assert evals["summary"]["published"][k] == pub[k]
    assert set(TEMPORAL_KEYS) <= set(evals["summary"]["temporal"]) and set(TEMPORAL_KEYS) <= set(evals["temporal"])
    on_disk = json.loads((out / "visualize" / "DVI" / "eval.json").read_text())
    assert on_disk["summary"]["published"]["spat_np"] == pytest.approx(pub["spat_np"])


def _zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return path


def _step(ids: list[str], rows: np.ndarray) -> str:
    return "id," + ",".join(f"f{j}" for j in range(rows.shape[1])) + "\n" + "".join(
        f"{i}," + ",".join(f"{v:.9g}" for v in r) + "\n" for i, r in zip(ids, rows))


def test_import_small_zip_and_reorders_ids(tmp_path):
    """A two-class softmax dataset whose second step lists the ids in another order: rows follow
    the first step's order, predictions are the log, classes sorted (not CIFAR-10's)."""
    from ttvis.dynamics import TrainingDynamics
    from ttvis.dynamics.importers import import_vernier

    ids = ["a-0", "b-1", "a-2", "b-3"]
    p0 = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    p1 = np.array([[0.1, 0.9], [0.4, 0.6], [0.7, 0.3], [0.5, 0.5]])
    src = _zip(tmp_path / "toy.zip", {"toy/toy-0.csv": _step(ids, p0), "toy/toy-1.csv": _step(ids[::-1], p1[::-1])})
    out = import_vernier(src, tmp_path / "run")
    assert out["epochs"] == [1, 2] and out["classes"] == ["a", "b"] and out["probabilities"]
    run = TrainingDynamics(tmp_path / "run")
    assert run.labels.tolist() == [0, 1, 0, 1]
    assert np.allclose(run.representation(2), p1, atol=1e-7)
    assert np.allclose(run.prediction(1), np.log(p0), atol=1e-6)


@pytest.mark.parametrize("files,member,expected", [
    ({"x.txt": "nothing"}, None, "step files named <name>-<t>.csv"),
    ({"d-0.csv": "id,f0\na-0,1\na-1,zz\n"}, "d-0.csv", "numbers after the id"),
    ({"d-0.csv": "id,f0,f1\na-0,1,2\na-1,3\n"}, "d-0.csv", "3 columns on every row"),
    ({"d-0.csv": "id,f0\na-0,1\na-1,2\n", "d-1.csv": "id,f0\na-0,1\na-9,2\n"}, "d-1.csv", "the first step's 2 ids"),
    ({"d-0.csv": "id,f0\nnodash,1\nx-1,2\n"}, "d-0.csv", "ids of the form <class>-<n>"),
    ({"d-0.csv": "id,f0\na-0,1\n", "e-0.csv": "id,f0\na-0,1\n"}, None, "choose one with --dataset"),
])
def test_import_bad_input_one_clear_error(tmp_path, cli_env, files, member, expected):
    """Bad input: exit 2, one `error:` line naming the zip (and the member at fault) and what was expected."""
    src = _zip(tmp_path / "bad.zip", files)
    p = subprocess.run(ttvis_cmd("import", "vernier", str(src), str(tmp_path / "out")), capture_output=True, text=True,
                       env=cli_env, timeout=120)
    assert p.returncode == 2
    err = [ln for ln in p.stderr.splitlines() if ln.startswith("error:")]
    assert len(err) == 1 and str(src) in err[0] and expected in err[0], p.stderr
    if member:
        assert f"{src}:{member}" in err[0]
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))
