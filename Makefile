# edgeflow — see README.md. `make run` needs only Go; `make test` starts the real
# services the tests need (Kafka via Maven + Java, Mosquitto via apt) and stops them.
SHELL := /bin/bash
GO ?= go
BIN := bin/edgeflow
CACHE ?= $(CURDIR)/.cache
export EDGEFLOW_CACHE := $(CACHE)

.PHONY: all build run test test-unit services-up services-down lint-examples fuzz bench-encode generate check-generated clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/edgeflow

## run: the demo on the embedded broker — no external services needed.
run: build
	./$(BIN) demo

## test: every test, against a real Kafka broker and a real Mosquitto.
test: build
	bash internal/tools/test.sh

test-unit:
	$(GO) test -race ./...

clean:
	rm -rf bin
