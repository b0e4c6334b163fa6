"""Weight clustering with tensorflow-model-optimization: few distinct weights per layer.

    clustered = cluster_weights(model, anchors, config.input_size, data, 16, tune)

Every Conv2D kernel is replaced by its nearest of N shared values (k-means++ centroids),
fine-tuning trains the centroids, and stripping the wrappers leaves a plain tf-keras model
whose kernels hold at most N distinct values. Zeros stay zero (model-optimization's
sparsity-preserving clustering), so it goes on top of magnitude pruning: pruning leaves
the surviving INT8 weights with ~7 bits of entropy each, clustering leaves them ~log2 N,
and that is what a gzipped model, an OTA download or a compressed SD-card image pays for.
Like pruning, it makes no kernel faster. Depthwise kernels are left alone as pruning
leaves them: they are few and matter most.

Convert per-channel (the default) after clustering: the converter folds each batch norm
into the kernel before it, scaling every output channel by its own factor, so one
per-tensor scale turns N shared values into N per channel, all different (measured on the
demo detector: 16 clusters took the gzipped per-tensor model from 0.80x to only 0.76x of
plain INT8), while per-channel scales bring each channel's values back onto few integers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pisight.convert.data.datasets import Dataset
from pisight.convert.optimize.pruning import copy_model
from pisight.convert.ssd.finetune import FinetuneOptions, KeepBest, fine_tune
from pisight.convert.tf import keras

CLUSTERS = (2, 256)
"""The range of --cluster: INT8 has 256 values, one cluster is no weights at all."""


def cluster_weights(
    model: keras.Model,
    anchors: np.ndarray,
    input_size: int,
    dataset: Dataset,
    clusters: int,
    options: FinetuneOptions,
    keep_best: KeepBest | None = None,
    teacher: keras.Model | None = None,
) -> keras.Model:
    """A fine-tuned copy of `model` whose Conv2D kernels share `clusters` values each.

    teacher: distil its class scores (the model before pruning and clustering).
    """
    import tensorflow_model_optimization as tfmot

    check_cluster_count(clusters)
    api = tfmot.clustering.keras

    def wrap(layer: keras.layers.Layer) -> keras.layers.Layer:
        # DepthwiseConv2D is not a Conv2D in tf-keras; kernels too small for `clusters`
        # values come back unwrapped from model-optimization itself.
        if isinstance(layer, keras.layers.Conv2D):
            return api.cluster_weights(
                layer, number_of_clusters=clusters,
                cluster_centroids_init=api.CentroidInitialization.KMEANS_PLUS_PLUS,
                preserve_sparsity=True,
            )  # fmt: skip
        return layer

    wrapped = keras.models.clone_model(copy_model(model), clone_function=wrap)
    fine_tune(wrapped, anchors, input_size, dataset, options, teacher=teacher, keep_best=keep_best)
    return api.strip_clustering(wrapped)


def check_cluster_count(clusters: int) -> None:
    low, high = CLUSTERS
    if not low <= clusters <= high:
        raise ValueError(f"--cluster takes {low}-{high} values per layer, e.g. 16; got {clusters}")


def clustering_summary(model: keras.Model, clusters: int) -> dict[str, Any]:
    """For pisight.json: clusters asked for, kernels that hold no more, values per layer."""
    layers = distinct_weights(model)
    return {
        "clusters": clusters,
        "clustered_layers": sum(count <= clusters for count in layers.values()),
        "layers": layers,
    }


def distinct_weights(model: keras.Model) -> dict[str, int]:
    """Distinct non-zero kernel values per Conv2D (depthwise excluded, as clustering does)."""
    return {
        layer.name: int(np.unique(kernel[kernel != 0]).size)
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv2D)
        for kernel in [layer.get_weights()[0]]
    }
