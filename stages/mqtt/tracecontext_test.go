package mqtt

import (
	"testing"

	"github.com/eclipse/paho.golang/paho"
)

func TestCopyTraceContext(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	pub := &paho.Publish{Properties: &paho.PublishProperties{User: paho.UserProperties{
		{Key: "traceparent", Value: tp}, {Key: "baggage", Value: "tenant=acme"}, {Key: "unit", Value: "celsius"}}}}
	md := map[string]string{}
	copyTraceContext(pub, md)
	if md["traceparent"] != tp || md["baggage"] != "tenant=acme" || len(md) != 2 {
		t.Errorf("metadata %v: want traceparent and baggage only", md)
	}
	copyTraceContext(&paho.Publish{}, md) // MQTT 3 style: no properties
}
