// Package mqtt is the "mqtt" source: it subscribes to topics on an MQTT broker
// (github.com/eclipse/paho.golang, MQTT 5) and turns each message's payload (a
// JSON reading, an array of them, JSON lines or a bare number) into one message
// of kind readings, taking stream and node from the topic when the payload lacks
// them. With QoS 1 or 2 a message is acknowledged to the broker only after the
// pipeline acknowledged it, so nothing is lost when the node stops.
package mqtt
