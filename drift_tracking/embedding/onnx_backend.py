"""ONNX Runtime on CPU: the model exported once, run in fp32 or dynamically quantised to int8.

Needs the optional extra (``pip install 'drift-tracking[onnx]'``: onnxruntime, and onnx
for the quantiser). sentence-transformers' own ``backend="onnx"`` needs
``optimum-onnx``, which would pin older sentence-transformers and transformers, so the
export is done here with ``torch.onnx`` from the model's own modules: the transformer,
its pooling (mean, CLS or max) and, when the model has it, the normalisation, in one
graph whose output is the sentence embedding. The tokenizer is saved beside it from
the loaded model (with the model's truncation length), so windows are tokenized
exactly as sentence-transformers would, without importing torch at check time.

The export lands under ``<cache>/onnx/<weights hash>-v<recipe>/`` on first use and is
reused afterwards: ``model-fp32.onnx`` (vectors within ~1e-6 of PyTorch's) and
``model-int8.onnx`` (weights quantised per channel to int8; ~0.994 mean cosine to
PyTorch, so it is another backend in the model identity and never mixed with fp32).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from drift_tracking.embedding.files import hash_model_files, local_model_folder
from drift_tracking.embedding.identity import ONNX, ONNX_INT8, RUNTIME_NAMES, ModelIdentity, with_probe
from drift_tracking.errors import DriftTrackingError

EXPORT_RECIPE = 1  # bump when the export below changes: old exports are then left alone
_ENCODING_FIELDS = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}
_INSTALL = "pip install 'drift-tracking[onnx]'"


def require_onnxruntime() -> Any:
    """The onnxruntime module, or a one-line error saying how to install it."""
    try:
        import onnxruntime
    except ImportError:
        raise DriftTrackingError(
            f"the onnx and onnx-int8 backends need ONNX Runtime, which is not installed: {_INSTALL} "
            "(or embed with --backend torch)"
        ) from None
    return onnxruntime


class OnnxRuntime:
    """Embeds with an ONNX Runtime CPU session; tokens are the tokenizer's, after truncation."""

    def __init__(self, name: str, target: str, source: str, *, quantized: bool, export_root: Path) -> None:
        self.name, self.target, self.source = name, target, source
        self.quantized = quantized
        self.export_root = Path(export_root)
        self.backend = ONNX_INT8 if quantized else ONNX
        self._session: Any = None
        self._tokenizer: Any = None
        self._inputs: list[str] = []
        self._dimension = 0

    def describe(self) -> str:
        return f"{self.name!r} in-process with {RUNTIME_NAMES[self.backend]}"

    def local_weights(self) -> str | None:
        return None if self.source == "hub" else hash_model_files(self.target)

    @property
    def device(self) -> str:
        return "cpu"

    def load(self) -> ModelIdentity:
        ort = require_onnxruntime()
        from tokenizers import Tokenizer

        folder = local_model_folder(self.target)
        weights = hash_model_files(folder)
        directory, meta = exported_model(folder, weights, self.export_root, quantized=self.quantized)
        options = ort.SessionOptions()
        options.log_severity_level = 3  # ONNX Runtime's own warnings are about graph internals
        model_file = directory / ("model-int8.onnx" if self.quantized else "model-fp32.onnx")
        self._session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self._inputs = [i.name for i in self._session.get_inputs()]
        self._tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self._tokenizer.enable_truncation(int(meta["max_seq_length"]))
        self._tokenizer.no_padding()
        self._dimension = int(meta["dimension"])
        identity = ModelIdentity(
            name=self.name, dimension=self._dimension, weights_sha256=weights, backend=self.backend,
            normalized=bool(meta["normalized"]), max_seq_length=int(meta["max_seq_length"]),
            precision="int8" if self.quantized else "float32", source=self.source,
        )
        return with_probe(identity, self.embed)

    def embed(self, texts: Sequence[str], *, batch_size: int, progress: bool) -> tuple[np.ndarray, int | None]:
        """Longest texts first in batches of ``batch_size`` (less padding), rows back in input order."""
        from tqdm.auto import tqdm

        encodings = self._tokenizer.encode_batch(list(texts))
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
        out = np.empty((len(encodings), self._dimension), dtype=np.float32)
        for start in tqdm(range(0, len(order), batch_size), disable=not progress, unit="batch"):
            rows = order[start : start + batch_size]
            out[rows] = self._session.run(None, _feed([encodings[i] for i in rows], self._inputs))[0]
        return out, int(sum(len(e.ids) for e in encodings))


def _feed(encodings: Sequence[Any], names: Sequence[str]) -> dict[str, np.ndarray]:
    """Right-padded int64 arrays of one batch; padded positions are masked, their ids never read."""
    width = max(len(e.ids) for e in encodings)
    arrays = {name: np.zeros((len(encodings), width), dtype=np.int64) for name in names}
    for row, encoding in enumerate(encodings):
        for name in names:
            values = getattr(encoding, _ENCODING_FIELDS[name])
            arrays[name][row, : len(values)] = values
    return arrays


def exported_model(folder: Path, weights: str, root: Path, *, quantized: bool) -> tuple[Path, dict[str, Any]]:
    """The export directory of the model in ``folder`` and its metadata, exporting on first use."""
    directory = Path(root) / f"{weights[:16]}-v{EXPORT_RECIPE}"
    meta_file = directory / "export.json"
    if not meta_file.is_file():  # written last: its presence means the fp32 export is complete
        _export(folder, directory)
    if quantized and not (directory / "model-int8.onnx").is_file():
        _quantize(directory / "model-fp32.onnx", directory / "model-int8.onnx")
    return directory, json.loads(meta_file.read_text())


def _export(folder: Path, directory: Path) -> None:
    import torch

    from drift_tracking.embedding.torch_backend import load_model

    model = load_model(str(folder), "cpu")
    kinds = [type(m).__name__ for m in model]
    pooling = _pooling_mode(model[1]) if len(kinds) > 1 and kinds[1] == "Pooling" else None
    if kinds[0] != "Transformer" or pooling not in ("mean", "cls", "max") or set(kinds[2:]) - {"Normalize"}:
        raise DriftTrackingError(
            f"the onnx backends export models made of a Transformer, mean/CLS/max Pooling and an optional "
            f"Normalize; {folder.name} is {' + '.join(kinds)} (pooling {pooling}): embed it with --backend torch"
        )
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in model[0].tokenizer.model_input_names]
    normalize = "Normalize" in kinds
    directory.mkdir(parents=True, exist_ok=True)
    encoder = _encoder(torch, model[0].auto_model, names, pooling, normalize).eval()
    ids = torch.tensor([[101, 2023, 2003, 102, 0, 0], [101, 2023, 2003, 1037, 3231, 102]])
    example = {"input_ids": ids, "attention_mask": (ids != 0).long(), "token_type_ids": torch.zeros_like(ids)}
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    with _atomic(directory / "model-fp32.onnx") as tmp, warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracer notes
        torch.onnx.export(encoder, tuple(example[n] for n in names), str(tmp), dynamo=False, input_names=names,
                          output_names=["sentence_embedding"], opset_version=17,
                          dynamic_axes={**axes, "sentence_embedding": {0: "batch"}})
    model[0].tokenizer.backend_tokenizer.save(str(directory / "tokenizer.json"))
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    meta = {"dimension": int(getter()), "max_seq_length": int(model.max_seq_length), "normalized": normalize,
            "pooling": pooling, "inputs": names, "recipe": EXPORT_RECIPE, "torch": torch.__version__}
    with _atomic(directory / "export.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=2))


def _pooling_mode(pooling: Any) -> str | None:
    mode = getattr(pooling, "pooling_mode", None)  # sentence-transformers >= 5
    if mode is None and hasattr(pooling, "get_pooling_mode_str"):
        mode = pooling.get_pooling_mode_str()
    return {"mean_tokens": "mean", "cls_token": "cls", "max_tokens": "max"}.get(mode, mode)


def _encoder(torch: Any, transformer: Any, names: Sequence[str], pooling: str, normalize: bool) -> Any:
    """The transformer, its pooling and normalisation as one module whose output is the sentence embedding."""

    class SentenceEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *tensors: Any) -> Any:
            inputs = dict(zip(names, tensors))
            tokens = self.transformer(**inputs).last_hidden_state
            mask = inputs["attention_mask"].unsqueeze(-1).to(tokens.dtype)
            if pooling == "cls":
                sentence = tokens[:, 0]
            elif pooling == "max":
                sentence = (tokens + (mask - 1.0) * 1e9).max(dim=1).values
            else:
                sentence = (tokens * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(sentence, p=2, dim=1) if normalize else sentence

    return SentenceEncoder()


def _quantize(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation, per channel: 0.994 mean cosine to fp32 here (per tensor: 0.965)."""
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        raise DriftTrackingError(f"int8 quantisation needs the onnx package: {_INSTALL}") from None
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantiser advises pre-processing through the root logger
    try:
        with _atomic(target) as tmp:
            quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        root.setLevel(level)


class _atomic:
    """A temporary path beside ``target``, renamed onto it on success: a reader never sees half a file."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __enter__(self) -> Path:
        fd, name = tempfile.mkstemp(prefix=f".{self.target.name}.", dir=self.target.parent)
        os.close(fd)
        self.tmp = Path(name)
        return self.tmp

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            os.replace(self.tmp, self.target)
        else:
            self.tmp.unlink(missing_ok=True)
