// Package examples embeds the example pipeline files of this directory, so that
// commands such as edgeflow demo can run them without the source tree. The YAML
// files are the source of truth; FS holds them as they are.
package examples
