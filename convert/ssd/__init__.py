"""The detector: SSDLite heads on MobileNetV2 built with tf-keras (model.py), anchors and the
box coder (anchors.py), the SavedModel export ending in TFLite_Detection_PostProcess
(export.py), training and fine-tuning (train.py, train_data.py, losses.py, optimization.py,
finetune.py). May import convert.tf, convert.data, convert.report.evaluate and device.model.
"""
