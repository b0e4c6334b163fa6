"""Label files pisight ships: `--labels coco` (or coco-tf1, voc, shapes) names one of them."""
