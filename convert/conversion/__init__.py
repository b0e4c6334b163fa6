"""The conversion pipeline behind `pisight convert`: convert_model and its steps
(converter.py, options.py, steps.py, state.py), loading Keras, SavedModel or
keras:mobilenet_v2 (model_input.py), the TFLite converter modes (quantize.py, compact.py),
and the proofs: verify.py, agreement.py and the tflite-runtime 2.14 check in an isolated
venv (legacy_runtime.py). May import convert.tf, convert.data, convert.ssd,
convert.optimize, convert.report and device.model.
"""
