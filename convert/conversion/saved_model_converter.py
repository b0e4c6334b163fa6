"""A TFLite converter over a SavedModel that loads the SavedModel once, not three times.

    converter = saved_model_converter(Path("sm"))   # configure it as usual, then:
    with single_load(converter):
        flatbuffer = converter.convert()            # or a QuantizationDebugger over it

`tf.lite.TFLiteConverter.from_saved_model` restores the whole SavedModel (every function
and variable) only to list its signature keys, and `convert()` restores it again only to
read the debug info (source locations for converter error messages). The conversion
itself reads the graph through the SavedModel importer. For our SSD each of those two
extra loads took ~5 s of a ~13 s conversion (2-core Xeon, TensorFlow 2.21), so this
module reads the signature keys and the debug info from saved_model.pb instead. The
flatbuffer is byte-identical (tests/convert/conversion/test_saved_model_converter.py
checks it against the official path). SavedModels this shortcut does not cover (several
meta graphs or signatures, no "serve" tag) go through `from_saved_model` unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pisight.convert.tf import tf, tflite_converter

SERVE_TAG = "serve"


class _DebugInfoOnly:
    """What `convert()`'s second load is used for: the SavedModel's graph debug info."""

    def __init__(self, graph_debug_info: Any) -> None:
        self.graph_debug_info = graph_debug_info


def saved_model_converter(saved_model: Path) -> Any:
    """A TFLiteConverter for `saved_model`, to be run inside `single_load`."""
    proto, debug_info = tflite_converter._parse_saved_model_with_debug_info(str(saved_model))
    graphs = proto.meta_graphs
    keys = [key for key in graphs[0].signature_def if not key.startswith("__")] if graphs else []
    if len(graphs) == 1 and len(keys) == 1 and SERVE_TAG in graphs[0].meta_info_def.tags:
        # What from_saved_model records in the flatbuffer's conversion metadata.
        tflite_converter.TFLiteConverterBase._set_original_model_type(
            tflite_converter.conversion_metadata_fb.ModelType.TF_SAVED_MODEL
        )
        converter = tflite_converter.TFLiteSavedModelConverterV2(
            str(saved_model), {SERVE_TAG}, keys
        )
        if converter.saved_model_dir:  # cleared when the importer cannot read it
            converter.pisight_debug_info = debug_info
            return converter
    return tf.lite.TFLiteConverter.from_saved_model(str(saved_model))


@contextmanager
def single_load(converter: Any) -> Iterator[None]:
    """While inside, converter.convert() answers its debug-info load from saved_model.pb."""
    debug_info = getattr(converter, "pisight_debug_info", None)
    if debug_info is None:
        yield
        return
    load = tflite_converter._load
    tflite_converter._load = lambda *_args, **_kwargs: _DebugInfoOnly(debug_info)
    try:
        yield
    finally:
        tflite_converter._load = load
