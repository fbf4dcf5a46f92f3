// Package aggregate is the cloud side of edgeflow's federated learning: per
// round client sampling, collection of updates under a quorum or deadline,
// and robust aggregation into the next global model.
//
// Data flows in three steps. Sample picks the round's clients (fraction and
// minimum, seeded: repeatable). A Round takes the updates that arrive (Offer)
// and decides when the round may close (Ready: quorum reached or deadline
// passed; stragglers never block a round); late updates — an older round's,
// or after closing — are counted and dropped, as are duplicates and updates
// from clients not selected. Close returns an immutable snapshot of the
// accepted updates, and Aggregate, a pure function of the global model and
// that snapshot, returns the next global model: FedAvg weighted by example
// counts (weights sum to 1), coordinate-wise median, trimmed mean, or
// (multi-)Krum, optionally with central differential privacy (each delta
// clipped to an L2 norm, Gaussian noise of stated multiplier added to the
// mean). RunRound strings these together; its only side effects go through
// Transport (broadcast the global model, receive an update).
package aggregate
