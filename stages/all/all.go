package all

import (
	// Each stage package registers itself from init; add new ones here.
	_ "github.com/edgeflow/edgeflow/stages/detect"
	_ "github.com/edgeflow/edgeflow/stages/encode"
	_ "github.com/edgeflow/edgeflow/stages/fedavg"
	_ "github.com/edgeflow/edgeflow/stages/file"
	_ "github.com/edgeflow/edgeflow/stages/generate"
	_ "github.com/edgeflow/edgeflow/stages/httpsrc"
	_ "github.com/edgeflow/edgeflow/stages/images"
	_ "github.com/edgeflow/edgeflow/stages/kafka"
	_ "github.com/edgeflow/edgeflow/stages/mqtt"
	_ "github.com/edgeflow/edgeflow/stages/stdout"
	_ "github.com/edgeflow/edgeflow/stages/train"
)
