// Package testenv tells tests where the real services and shared data are, and
// applies edgeflow's rule for when they are missing: skip with a reason on a
// developer's machine, fail when CI=true. Tests in every package use it, so the
// rule lives in one place.
package testenv
