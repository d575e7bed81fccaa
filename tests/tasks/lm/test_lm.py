"""task=lm: the pydoc split by topic, the text loaders on tiny files, a causal model for every activation (and a
negative control that shows the check can fail), the ASH statistics guard, SwiGLU's weight count, real jobs."""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from pydoc_data.topics import topics

from tasks.common.activation import act_factory
from tasks.common.errors import ConfigError, DataError
from tasks.lm import DATAMODULES, build_module
from tasks.lm.data import TokenWindows, pydoc_bytes, pydoc_topics
from tasks.lm.model import build_gpt

TINY_MODEL = ["task=lm", "model.n_layer=2", "model.n_embd=32", "model.n_head=2", "data.block_size=16"]
TINY = [*TINY_MODEL, "data.batch_size=4", "task.sample_tokens=20"]
CAUSAL_ACTS = ["relu", "gelu", "swish", "ash", "fash50", "lash", "swiglu"]


def datamodule(cfg):
    module = DATAMODULES[cfg.data.name](cfg.data)
    module.setup("fit")
    return module


# -- pydoc ----------------------------------------------------------------------------------------------
def test_pydoc_topics_are_partitioned_about_80_10_10_and_the_split_is_stable():
    splits = pydoc_topics()
    names = [t for split in splits.values() for t in split]
    assert sorted(names) == sorted(topics) and len(names) == len(set(names))  # every topic in exactly one split
    assert all(split == sorted(split) for split in splits.values())
    sizes = {s: len(pydoc_bytes(s)) for s in ("train", "val", "test")}
    share = {s: n / sum(sizes.values()) for s, n in sizes.items()}
    assert 0.7 < share["train"] < 0.9 and 0.05 < share["val"] < 0.2 and 0.05 < share["test"] < 0.2, share
    assert pydoc_topics() == splits and torch.equal(pydoc_bytes("val"), pydoc_bytes("val"))


def test_pydoc_split_text_is_its_topics_joined_in_order():
    splits = pydoc_topics()
    text = bytes(pydoc_bytes("test").tolist()).decode("utf-8")
    assert text == "\n\n".join(topics[t] for t in splits["test"])
    for topic in splits["val"]:  # a val topic's text never reaches train (short generic ones may repeat by chance)
        if len(topics[topic]) > 200:
            assert topics[topic] not in bytes(pydoc_bytes("train").tolist()).decode("utf-8")


def test_loader_yields_inputs_and_targets_shifted_by_one(compose):
    dm = datamodule(compose([*TINY_MODEL, "data.batch_size=4"]))
    dm.set_world_size(1)
    x, y = next(iter(dm.val_dataloader()))
    assert x.shape == y.shape == (4, 16) and x.dtype == y.dtype == torch.int64
    assert torch.equal(x[:, 1:], y[:, :-1])
    stream = pydoc_bytes("val").long()
    assert torch.equal(x[1], stream[16:32]) and torch.equal(y[1], stream[17:33])  # windows every block_size tokens
    assert dm.vocab_size == dm.num_classes == 256 and dm.block_size == 16
    assert len(dm.val_set) == (len(stream) - 1) // 16


# -- text corpora on disk -------------------------------------------------------------------------------
def text_module(compose, data_dir: Path, *extra: str):
    return DATAMODULES["text"](compose(["task=lm", "data=text", f"paths.data_dir={data_dir}", "data.corpus=tiny",
                                        "data.block_size=4", "data.num_workers=0", *extra]).data)


def test_text_reads_utf8_files_as_bytes(compose, tmp_path):
    corpus = tmp_path / "text" / "tiny"
    corpus.mkdir(parents=True)
    for split, text in {"train": "héllo world, " * 3, "val": "abcdefghij", "test": "0123456789"}.items():
        (corpus / f"{split}.txt").write_text(text, encoding="utf-8")
    dm = text_module(compose, tmp_path)
    dm.setup("fit")
    assert dm.vocab_size == 256 and len(dm.val_set) == 2  # (10 - 1) // 4
    x, y = dm.val_set[1]
    assert bytes(x.tolist()) == b"efgh" and bytes(y.tolist()) == b"fghi"
    assert bytes(dm.train_set[0][0].tolist()) == "hé".encode("utf-8") + b"l"  # é is two bytes
    assert dm.codec.decode(dm.codec.encode("é ok")) == "é ok"
    with pytest.raises(ConfigError, match="data.vocab_size=256"):
        text_module(compose, tmp_path, "data.vocab_size=50304").vocab_size


def test_text_reads_uint16_token_files(compose, tmp_path):
    corpus = tmp_path / "text" / "tiny"
    corpus.mkdir(parents=True)
    for split, n in {"train": 21, "val": 9, "test": 13}.items():
        (np.arange(n, dtype=np.uint16) * 100).tofile(corpus / f"{split}.bin")
    dm = text_module(compose, tmp_path, "data.vocab_size=2100")
    dm.setup("fit")
    assert dm.vocab_size == 2100 and [len(s) for s in (dm.train_set, dm.val_set, dm.test_set)] == [5, 2, 3]
    x, y = dm.train_set[4]
    assert x.tolist() == [1600, 1700, 1800, 1900] and y.tolist() == [1700, 1800, 1900, 2000]
    assert dm.codec.encode("ignored")[:3] == [0, 100, 200]  # no tokenizer: the prompt is val.bin's start


def test_missing_corpus_names_the_path_and_the_layout(compose, tmp_path):
    with pytest.raises(DataError) as error:
        text_module(compose, tmp_path).setup("fit")
    message = str(error.value)
    assert str(tmp_path / "text" / "tiny") in message and "Expected layout" in message
    assert "train.txt, val.txt, test.txt" in message and "train.bin, val.bin, test.bin" in message
    (tmp_path / "text" / "tiny").mkdir(parents=True)
    for split in ("train", "val"):
        (tmp_path / "text" / "tiny" / f"{split}.bin").write_bytes(b"\0\0")
    with pytest.raises(DataError, match=re.escape(str(tmp_path / "text" / "tiny" / "test.bin"))):
        text_module(compose, tmp_path).setup("fit")


def test_an_out_of_vocabulary_token_names_the_file(compose, tmp_path):
    corpus = tmp_path / "text" / "tiny"
    corpus.mkdir(parents=True)
    for split in ("train", "val", "test"):
        np.array([1, 2, 300 if split == "val" else 3, 4], dtype=np.uint16).tofile(corpus / f"{split}.bin")
    with pytest.raises(DataError, match=r"val\.bin holds token id 300 \(at index 2\) >= data.vocab_size=256"):
        text_module(compose, tmp_path).setup("fit")


def test_token_windows_cover_every_target_once():
    windows = TokenWindows(torch.arange(11, dtype=torch.uint8), 3)
    assert len(windows) == 3
    assert torch.cat([windows[i][1] for i in range(3)]).tolist() == list(range(1, 10))


# -- the model ------------------------------------------------------------------------------------------
def tiny_gpt(compose, *overrides: str, act_cfg=None):
    cfg = compose([*TINY_MODEL, *overrides])
    act = act_cfg if act_cfg is not None else cfg.act
    torch.manual_seed(0)
    return build_gpt(cfg.model, act, 256, 16, act_factory(act)).eval()


def future_changes_past(model, t: int = 7) -> float:
    """The largest change of the logits at positions <= t when the tokens after t change."""
    idx = torch.randint(0, 256, (3, 16), generator=torch.Generator().manual_seed(1))
    other = idx.clone()
    other[:, t + 1:] = torch.randint(0, 256, (3, 16 - t - 1), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        a, b = model(idx), model(other)
    assert not torch.allclose(a[:, t + 1:], b[:, t + 1:], atol=1e-5)  # the future did change
    return float((a[:, :t + 1] - b[:, :t + 1]).abs().max())


@pytest.mark.parametrize("act", CAUSAL_ACTS)
def test_the_whole_model_is_causal_for_every_activation(compose, act):
    model = tiny_gpt(compose, f"act={act}")
    if act in ("ash", "fash50", "lash"):
        assert all(m.stats == "token" for m in model.modules() if hasattr(m, "stats"))
    assert future_changes_past(model) < 1e-5


def test_sample_statistics_leak_the_future_so_the_check_can_fail(compose):
    leaky = compose([*TINY_MODEL, "act=ash", "act.stats=sample"]).act  # built directly: past the guard
    assert future_changes_past(tiny_gpt(compose, act_cfg=leaky)) > 1e-4


@pytest.mark.parametrize("stats", ["sample", "channel"])
def test_ash_statistics_other_than_token_are_refused(compose, stats):
    cfg = compose([*TINY_MODEL, "act=fash50", f"act.stats={stats}"])
    with pytest.raises(ConfigError, match="act.stats=token"):
        build_module(cfg, DATAMODULES["pydoc"](cfg.data))


def test_a_leaky_job_stops_before_training_and_names_the_leak(train, tmp_path):
    with pytest.raises(ConfigError, match=r"act.stats=sample .* future leaks .* act.stats=token"):
        train([*TINY, "act=ash", "act.stats=sample", "debug=fast_dev_run"])
    assert not list((tmp_path / "results" / "runs").rglob("summary.json"))


def test_swiglu_has_the_weights_of_the_gelu_mlp(compose):
    gelu, swiglu = (sum(p.numel() for p in tiny_gpt(compose, f"act={a}", "model.n_embd=128").parameters())
                    for a in ("gelu", "swiglu"))
    assert abs(swiglu - gelu) / gelu < 0.01
    assert gelu == 2 * (12 * 128 ** 2 + 13 * 128) + (256 + 16) * 128 + 2 * 128  # blocks, embeddings, ln_f; head tied


def test_greedy_generation_is_deterministic_and_crops_the_context(compose):
    model = tiny_gpt(compose, "act=ash")
    prompt = torch.tensor([[1, 2, 3]])
    a, b = model.generate(prompt, 20, temperature=0), model.generate(prompt, 20, temperature=0)
    assert a.shape == (1, 23) and torch.equal(a, b) and torch.equal(a[:, :3], prompt)  # 23 > block_size 16
    draws = [model.generate(prompt, 20, 1.0, 5, torch.Generator().manual_seed(s)) for s in (0, 0, 1)]
    assert torch.equal(draws[0], draws[1]) and not torch.equal(draws[0], draws[2])


# -- real jobs ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("act", ["gelu", "relu", "swish", "ash", "fash50", "swiglu"])
def test_fast_dev_run_for_each_activation(train, act):
    summary = train([*TINY, f"act={act}", "debug=fast_dev_run"])
    assert summary["status"] == "complete" and summary["task"] == "lm" and summary["monitor"] == "val/bpb"
    assert math.isfinite(summary["final"]["test/bpb"])  # fast_dev_run logs no epoch metrics: no val/bpb in metrics.csv
    assert summary["final"]["test/bpb"] == pytest.approx(summary["final"]["test/loss"] / math.log(2), rel=1e-5)
    family = act in ("ash", "fash50")
    assert len(summary["ash_layers"]) == (2 if family else 0)  # one per block
    assert (Path(summary["run_dir"]) / "samples" / "epoch_001.txt").read_text().startswith("The ")


def test_a_short_run_learns_below_the_uniform_8_bits_and_writes_the_samples(train, capsys):
    summary = train([*TINY, "act=ash", "trainer.max_epochs=2", "trainer.limit_train_batches=25",
                     "trainer.limit_val_batches=4", "trainer.limit_test_batches=4"])
    assert summary["status"] == "complete" and summary["epochs"] == 2
    assert summary["best"]["val/bpb"] < 6 and summary["final"]["test/bpb"] < 6  # uniform over 256 bytes: 8 bits
    assert summary["metric_modes"]["val/bpb"] == "min"
    samples = Path(summary["run_dir"]) / "samples"
    assert sorted(p.name for p in samples.iterdir()) == ["epoch_001.txt", "epoch_002.txt"]
    text = (samples / "epoch_002.txt").read_text()
    assert text.startswith("The ") and len(text) > len("The ")
    out = capsys.readouterr().out
    assert "Sample after epoch 2" in out and text in out and "val/bpb" in out


def test_a_bin_corpus_job_runs_and_writes_token_ids(train, tmp_path):
    corpus = tmp_path / "text" / "tiny"
    corpus.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split in ("train", "val", "test"):
        rng.integers(0, 300, 200, dtype=np.uint16).tofile(corpus / f"{split}.bin")
    summary = train([*TINY, "data=text", f"paths.data_dir={tmp_path}", "data.corpus=tiny", "data.vocab_size=300",
                     "data.block_size=16", "data.num_workers=0", "data.pin_memory=false", "debug=fast_dev_run"])
    assert summary["status"] == "complete" and math.isfinite(summary["final"]["test/bpb"])
    ids = (Path(summary["run_dir"]) / "samples" / "epoch_001.txt").read_text().split()
    assert len(ids) == 16 + 20 and all(0 <= int(i) < 300 for i in ids)


def test_gpt2_small_trains_one_step(train):
    summary = train(["task=lm", "model=gpt2_small", "data.block_size=32", "data.batch_size=2", "task.sample_tokens=4",
                     "trainer.fast_dev_run=1"])
    assert summary["status"] == "complete" and summary["global_steps"] == 1
    assert math.isfinite(summary["final"]["test/bpb"])
