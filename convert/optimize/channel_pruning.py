"""Channel pruning: remove whole channels and rebuild a smaller dense detector.

    plan = channel_plan(model, fraction=0.3)         # {conv name: kept channel indices}
    smaller = rebuild_pruned(model, plan)             # fewer filters, weights carried over

Zeros inside a weight tensor cost XNNPACK's dense kernels as much as any other value;
only fewer channels make a CPU faster. A convolution's output channels can go when
they only flow, channel by channel, into other convolutions: through batch norm,
ReLU, padding and depthwise convolutions, which keep channel k as channel k, into a
Conv2D that simply reads fewer input channels. In MobileNetV2 those are the expansion
convolutions of every inverted-residual block (and the last 1x1), in the SSD part the
extra feature layers; projections feeding a residual Add, a Concatenate or a head's
output are kept whole, and so is the stem, which every layer sees the image through
(_stem). The graph is walked to find them, so the same code prunes any model built
from these layers.

Importance of a channel: the L1 norm of its filter times |gamma| / sqrt(var + eps) of
the batch norm after it, i.e. the size of the filter once the norm is folded in, which
is what the channel contributes at inference.
"""

from __future__ import annotations

import logging

import numpy as np

from pisight.convert.tf import keras

log = logging.getLogger("pisight.prune")

# Layers that map input channel k to output channel k and nothing else.
CHANNELWISE = (
    keras.layers.BatchNormalization,
    keras.layers.ReLU,
    keras.layers.ZeroPadding2D,
    keras.layers.Activation,
)
MIN_CHANNELS = 8
"""A pruned convolution keeps at least this many channels."""
CHANNEL_MULTIPLE = 8

ChannelPlan = dict[str, np.ndarray]


def channel_plan(model: keras.Model, fraction: float) -> ChannelPlan:
    """For every prunable convolution, the indices of the channels it keeps."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"--prune takes a fraction of channels between 0 and 1, got {fraction}")
    plan = {}
    for layer in prunable_convolutions(model):
        importance = _importance(layer)
        count = len(importance)
        keep = min(count, kept_channels(count, fraction))
        if keep < count:
            # The most important channels, in their original order.
            plan[layer.name] = np.sort(np.argsort(-importance, kind="stable")[:keep])
    if not plan:
        raise ValueError("no convolution of this model can lose channels")
    return plan


def kept_channels(count: int, fraction: float) -> int:
    """count * (1 - fraction), to the nearest multiple of CHANNEL_MULTIPLE.

    XNNPACK's int8 kernels work on channel tiles of 8 or 16: 34 channels cost what 40
    do, so odd counts would give back much of the speed pruning is for.
    """
    wanted = count * (1.0 - fraction)
    return max(MIN_CHANNELS, CHANNEL_MULTIPLE * round(wanted / CHANNEL_MULTIPLE))


def prunable_channels(model: keras.Model) -> int:
    """Output channels of all convolutions whose channels can be removed."""
    return sum(layer.filters for layer in prunable_convolutions(model))


def prunable_convolutions(model: keras.Model) -> list[keras.layers.Conv2D]:
    """The dense convolutions whose output channels can be removed (see the module doc)."""
    outputs, stem = _outputs(model), _stem(model)
    return [
        layer
        for layer in model.layers
        if _is_dense_conv(layer) and layer is not stem and _feeds_only_convs(layer, outputs)
    ]


def rebuild_pruned(model: keras.Model, plan: ChannelPlan) -> keras.Model:
    """The same architecture with the planned convolutions narrower, weights copied over."""

    def narrower(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = layer.get_config()
        if layer.name in plan:
            config["filters"] = len(plan[layer.name])
        return layer.__class__.from_config(config)

    smaller = keras.models.clone_model(model, clone_function=narrower)
    kept_out: dict[str, np.ndarray | None] = {}
    for layer in model.layers:
        inbound = _inbound(layer)
        kept_in = kept_out.get(inbound[0].name) if len(inbound) == 1 else None
        if layer.name in plan:
            kept_out[layer.name] = plan[layer.name]
        elif isinstance(layer, (*CHANNELWISE, keras.layers.DepthwiseConv2D)):
            kept_out[layer.name] = kept_in
        else:
            kept_out[layer.name] = None
        weights = layer.get_weights()
        if weights:
            sliced = _slice(layer, weights, kept_in, plan.get(layer.name))
            smaller.get_layer(layer.name).set_weights(sliced)
    before, after = model.count_params(), smaller.count_params()
    log.info("channel pruning: %d convolutions narrowed, parameters %d -> %d (%.2fx)",
             len(plan), before, after, after / before)  # fmt: skip
    return smaller


def _slice(
    layer: keras.layers.Layer,
    weights: list[np.ndarray],
    kept_in: np.ndarray | None,
    kept_out: np.ndarray | None,
) -> list[np.ndarray]:
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        # kernel (h, w, channels, 1), bias (channels,): both follow the input channels.
        if kept_in is None:
            return weights
        return [weights[0][:, :, kept_in, :], *(w[kept_in] for w in weights[1:])]
    if isinstance(layer, keras.layers.Conv2D):
        kernel = weights[0]
        if kept_in is not None:
            kernel = kernel[:, :, kept_in, :]
        if kept_out is None:
            return [kernel, *weights[1:]]
        return [kernel[..., kept_out], *(w[kept_out] for w in weights[1:])]
    if isinstance(layer, keras.layers.BatchNormalization):
        return weights if kept_in is None else [w[kept_in] for w in weights]
    if kept_in is not None:
        raise ValueError(f"cannot carry pruned channels through layer {layer.name}")
    return weights


def _importance(conv: keras.layers.Conv2D) -> np.ndarray:
    kernel = conv.get_weights()[0]
    l1 = np.abs(kernel).reshape(-1, kernel.shape[-1]).sum(axis=0)
    follower = _consumers(conv)
    if len(follower) == 1 and isinstance(follower[0], keras.layers.BatchNormalization):
        norm = follower[0]
        gamma = norm.gamma.numpy() if norm.scale else np.ones_like(l1)
        l1 = l1 * np.abs(gamma) / np.sqrt(norm.moving_variance.numpy() + norm.epsilon)
    return l1


def _stem(model: keras.Model) -> keras.layers.Layer | None:
    """The first convolution, the one that reads the image.

    Every later layer sees the image only through its few channels, at full resolution:
    on the demo detector, cutting them 16 -> 8 cost more mAP than fine-tuning won back.
    """
    return next((layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)), None)


def _is_dense_conv(layer: keras.layers.Layer) -> bool:
    return (
        isinstance(layer, keras.layers.Conv2D)
        and not isinstance(layer, keras.layers.DepthwiseConv2D)
        and layer.groups == 1
    )


def _feeds_only_convs(layer: keras.layers.Layer, outputs: set[str]) -> bool:
    """Every path from this layer's output runs channel-wise into a dense Conv2D."""
    consumers = _consumers(layer)
    if not consumers or layer.name in outputs:
        return False
    for consumer in consumers:
        if _is_dense_conv(consumer):
            continue
        depthwise = isinstance(consumer, keras.layers.DepthwiseConv2D)
        if depthwise and consumer.depth_multiplier != 1:
            return False
        if not (depthwise or isinstance(consumer, CHANNELWISE)):
            return False
        if not _feeds_only_convs(consumer, outputs):
            return False
    return True


def _outputs(model: keras.Model) -> set[str]:
    return {name.split("/")[0] for name in model.output_names}


def _consumers(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    return [node.outbound_layer for node in layer._outbound_nodes]


def _inbound(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    nodes = layer._inbound_nodes
    if not nodes:
        return []
    inbound = nodes[0].inbound_layers
    return list(inbound) if isinstance(inbound, list | tuple) else [inbound]
