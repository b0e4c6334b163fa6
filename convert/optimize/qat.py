"""Quantization-aware training: fine-tune with INT8 rounding simulated, then convert.

    qat_model = quantization_aware(model, anchors, config.input_size, data, tune)
    export_saved_model(qat_model, config, "sm", anchors)   # the converter reads its ranges

tensorflow-model-optimization wraps every layer with fake-quantization of weights and
activations (batch norms folded into their convolutions as TFLite will fold them),
so training learns weights that survive INT8. Our input normalisation (Rescaling)
has no QAT config and stays unannotated: it is a multiply-add on the input that the
converter quantizes from the calibration frames like any post-training model.

The float model is the teacher (finetune.fine_tune) and the batch-norm statistics
stay as trained (_freeze_batch_norms): the quantized copy learns to give the scores
its float self gives, rather than fit the labels again from a moved start. On the
demo detector that turned QAT's -0.5 points against post-training INT8 into +0.13.

A pruned model keeps its zeros: the prune-preserving scheme
(tfmot.experimental.combine) masks the weights QAT would otherwise regrow. Clustered
models are not trained quantization-aware: the cluster-preserving scheme took 5 minutes
for one step of eight 96x96 images here.
"""

from __future__ import annotations

import numpy as np

from pisight.convert.data.datasets import Dataset
from pisight.convert.optimize.pruning import copy_model
from pisight.convert.ssd.finetune import FinetuneOptions, KeepBest, fine_tune
from pisight.convert.tf import keras


def quantization_aware(
    model: keras.Model,
    anchors: np.ndarray,
    input_size: int,
    dataset: Dataset,
    options: FinetuneOptions,
    keep_sparsity: bool = False,
    keep_best: KeepBest | None = None,
) -> keras.Model:
    """A QAT-fine-tuned copy of `model` (with fake-quant layers, ready to convert)."""
    import tensorflow_model_optimization as tfmot

    quantization = tfmot.quantization.keras

    class FloatPassThrough(quantization.QuantizeConfig):
        """Leaves a layer as it is (the schemes have no config for Rescaling)."""

        def get_weights_and_quantizers(self, layer):
            return []

        def get_activations_and_quantizers(self, layer):
            return []

        def set_quantize_weights(self, layer, quantize_weights) -> None:
            pass

        def set_quantize_activations(self, layer, quantize_activations) -> None:
            pass

        def get_output_quantizers(self, layer):
            return []

        def get_config(self) -> dict:
            return {}

    def annotate(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = FloatPassThrough() if isinstance(layer, keras.layers.Rescaling) else None
        return quantization.quantize_annotate_layer(layer, config)

    annotated = keras.models.clone_model(copy_model(model), clone_function=annotate)
    scheme = (
        tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme()
        if keep_sparsity
        else quantization.default_8bit.Default8BitQuantizeScheme()
    )
    with quantization.quantize_scope({"FloatPassThrough": FloatPassThrough}):
        aware = quantization.quantize_apply(annotated, scheme)
    _freeze_batch_norms(aware)
    fine_tune(aware, anchors, input_size, dataset, options, teacher=model, keep_best=keep_best)
    return aware


def _freeze_batch_norms(aware: keras.Model) -> None:
    """Normalise with the trained statistics and leave them as they are.

    A batch norm that is not trainable runs as at inference even in a training step.
    Batch statistics of 16 augmented images moved a converged detector more than QAT
    won back (-0.5 pts on the demo detector at either learning rate we tried); frozen,
    the fake-quantized convolutions train against the scales TFLite will fold in.
    Gamma and beta still train: the QuantizeWrapper lists them as its own.
    """
    for layer in aware.layers:
        inner = getattr(layer, "layer", layer)  # the QuantizeWrapper holds the real layer
        if isinstance(inner, keras.layers.BatchNormalization):
            inner.trainable = False
