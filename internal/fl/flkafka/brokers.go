package flkafka

import (
	"errors"
	"fmt"
	"net"
)

// ValidateBroker checks a host:port broker address.
func ValidateBroker(b string) error {
	host, port, err := net.SplitHostPort(b)
	if err != nil || host == "" || port == "" {
		return fmt.Errorf("broker %q: want host:port", b)
	}
	return nil
}

// Brokers returns configured, or else the node's brokers, failing when
// neither names any.
func Brokers(configured, node []string) ([]string, error) {
	if len(configured) > 0 {
		return configured, nil
	}
	for _, b := range node {
		if err := ValidateBroker(b); err != nil {
			return nil, fmt.Errorf("the node's brokers: %w", err)
		}
	}
	if len(node) == 0 {
		return nil, errors.New("no Kafka brokers: set brokers in the stage or the node's brokers")
	}
	return node, nil
}
