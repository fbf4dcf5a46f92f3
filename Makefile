# edgeflow — see README.md. `make run` needs only Go; `make test` starts the real
# services the tests need (Kafka via Maven + Java, Mosquitto via apt, Jaeger v2
# built from the Go module proxy) and stops them.
SHELL := /bin/bash
GO ?= go
BIN := bin/edgeflow
CACHE ?= $(CURDIR)/.cache
export EDGEFLOW_CACHE := $(CACHE)

.PHONY: all build run test chaos test-unit services-up services-down lint-examples fuzz bench-encode bench-schedule bench-fedavg bench-fl-anomaly bench-detect test-tflite-cgo test-arm generate check-generated clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/edgeflow

## run: the demo on the embedded broker — no external services needed.
run: build
	./$(BIN) demo

## test: every test, against a real Kafka broker and a real Mosquitto.
test: build
	bash internal/tools/test.sh

## chaos: the chaos tests (internal/chaos, a few minutes): their own Kafka broker on
## 127.0.0.1:$(CHAOS_KAFKA_PORT) (never the shared 9092) is SIGKILLed and restarted, the edge node
## and the consumer are SIGKILLed, the edge's link to Kafka is cut and healed; each test prints
## its counts and fails on any loss. The long variant of docs/reliability.md:
## make chaos EDGEFLOW_CHAOS_RATE=10000 EDGEFLOW_CHAOS_OUTAGE=5m
CHAOS_KAFKA_PORT ?= 19093
chaos:
	status=0; EDGEFLOW_CHAOS=1 EDGEFLOW_CHAOS_KAFKA_PORT=$(CHAOS_KAFKA_PORT) \
		$(GO) test -count=1 -v -timeout 30m ./internal/chaos || status=$$?; \
	KAFKA_PORT=$(CHAOS_KAFKA_PORT) bash internal/tools/kafka.sh down; exit $$status

## bench-encode: measure the frame codec on ../shared/data (one core, several minutes)
## and rewrite the encode section of docs/benchmarks.md.
bench-encode:
	cd internal/tools/benchencode && $(GO) run . -data $(CURDIR)/../shared/data -doc $(CURDIR)/docs/benchmarks.md

## bench-schedule: simulate the placement algorithms on 10 to 10,000 nodes (the better part
## of an hour on two cores) and rewrite the scheduling section of docs/benchmarks.md and its plot.
bench-schedule:
	cd internal/tools/benchschedule && $(GO) run -mod=mod . -doc $(CURDIR)/docs/benchmarks.md -plot $(CURDIR)/docs/images/schedule.png

## bench-fedavg: McMahan et al.'s MNIST FedAvg experiment (2NN, 100 clients, IID and non-IID,
## int8+zstd updates; tens of minutes on two cores) and rewrite the federated-averaging section
## of docs/benchmarks.md and its plot. FEDAVG_FLAGS passes more flags (-settings, -lr, -budget).
bench-fedavg:
	cd internal/tools/benchfedavg && $(GO) run -mod=mod . -results results.json -doc $(CURDIR)/docs/benchmarks.md -plot $(CURDIR)/docs/images/fedavg.png $(FEDAVG_FLAGS)

## bench-fl-anomaly: the four TelosB motes of ../shared/data/telosb as edge nodes federating an
## anomaly detector (z-score rule, each node alone, FedAvg, centralised; 5 seeds, about a minute)
## and rewrite the federated anomaly detection section of docs/benchmarks.md. FL_ANOMALY_FLAGS
## passes more flags (-seeds, -rounds, -hidden, -quantized-uplink).
bench-fl-anomaly:
	$(GO) run ./internal/tools/benchflanomaly -data $(CURDIR)/../shared/data/telosb/multihop.csv -results $(CURDIR)/internal/tools/benchflanomaly/results.json -doc $(CURDIR)/docs/benchmarks.md $(FL_ANOMALY_FLAGS)

## bench-detect: the TensorFlow Lite interpreter on every golden model (one goroutine and one
## per core: wall, CPU, allocations, peak RSS) and Arm NN CpuRef on the same models in the same
## run (Debian's python3-pyarmnn: bash internal/tools/armnn/golden.sh installs it; ~10 minutes),
## and rewrite the Detect section of docs/benchmarks.md. BENCH_DETECT_FLAGS passes more flags.
bench-detect:
	$(GO) run ./internal/tools/benchdetect -golden internal/tflite/testdata/golden -shared $(CURDIR)/../shared -doc $(CURDIR)/docs/benchmarks.md $(BENCH_DETECT_FLAGS)

## test-tflite-cgo: the golden tests on TensorFlow Lite's C library (internal/tflite/clib, build
## tag tflite, cgo); needs libtensorflowlite_c and its headers: docs/detect.md says how to get them.
test-tflite-cgo:
	CGO_ENABLED=1 $(GO) test -tags tflite -count=1 ./internal/tflite/clib

## test-arm: the TensorFlow Lite interpreter on ARM under qemu's user mode (Debian's qemu-user,
## installed when missing): arm64 NEON kernels against Go, golden models and the detect stage's
## model tests; GOARM=7/6 vet, build and kernel tests. Correctness only (docs/detect.md).
test-arm:
	bash internal/tools/test-arm.sh

## fuzz: every fuzz target of the module for FUZZTIME each (default 60s: about one minute per
## target, see internal/tools/fuzz.sh; FUZZPARALLEL=1 on a shared machine).
fuzz:
	bash internal/tools/fuzz.sh

test-unit:
	$(GO) test -race ./...

clean:
	rm -rf bin

## generate: refresh the files generated from the stage registry.
generate:
	$(GO) run ./cmd/edgeflow schema > docs/pipeline.schema.json.tmp && mv docs/pipeline.schema.json.tmp docs/pipeline.schema.json
	$(GO) run ./cmd/edgeflow schema --docs > docs/stages.md.tmp && mv docs/stages.md.tmp docs/stages.md

## check-generated: fail when the generated docs differ from the code.
check-generated:
	$(GO) test ./docs

## lint-examples: load every example pipeline with the standard stages.
lint-examples:
	$(GO) run ./cmd/edgeflow lint pipelines/examples/*.yaml
