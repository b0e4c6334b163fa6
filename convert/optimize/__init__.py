"""What may happen before quantization: the optimize plan and variant comparison (plan.py),
magnitude and 2:4 pruning (pruning.py), channel pruning (channel_pruning.py), weight
clustering (clustering.py), quantization-aware training (qat.py), and keeping the worst
layers in float (selective.py). May import convert.tf (tensorflow-model-optimization inside
functions), convert.data, convert.ssd, convert.conversion and convert.report.variants.
"""
