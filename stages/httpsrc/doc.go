// Package httpsrc is the "http" source: devices and scripts POST readings to the
// edge node over HTTP. Each request body (one JSON reading, a JSON array of them,
// or JSON lines) becomes one message of kind readings, and the request is
// answered only once the pipeline acknowledged that message, so a 200 means the
// readings are as safe as the pipeline's sinks make them.
package httpsrc
