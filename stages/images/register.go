package images

import "github.com/edgeflow/edgeflow/stages"

func init() {
	stages.RegisterSource(stages.Info{
		ID:      "images",
		Summary: "Watches a folder: each new JPEG, PNG or BMP file becomes an image message.",
		Description: `Lists path every poll interval. A file with one of the extensions that was last modified at
least settle ago and was not taken before in its present size and modification time becomes
one message of kind image: the file's bytes, edgeflow-image-name the file name,
edgeflow-image-format its format, edgeflow-stream the stream (default: the folder's name).
Pictures are sent oldest first, one at a time, each only after the previous one was
acknowledged. A file whose header is not a JPEG, PNG or BMP picture goes to the pipeline's
dead letters (source: its path) and is left in place.

after says what happens to an acknowledged picture: keep (it is taken again only when
rewritten, as a camera overwriting latest.jpg does; after a restart, existing decides), delete,
or move into move_to. A picture the pipeline rejects is sent again after a backoff, up to
max_attempts times, then logged and given up (moved to move_to/failed with after: move).
With once the folder is listed a single time and the source ends.`,
		Produces: []string{stages.KindImage},
		Examples: []stages.Example{
			{Title: "A camera drops JPEGs into a folder; processed ones are moved away", YAML: `type: images
path: /var/lib/edgeflow/camera
extensions: [.jpg]
after: move
move_to: /var/lib/edgeflow/camera/done`},
			{Title: "Every picture of a folder once, then stop", YAML: `type: images
path: ./pictures
once: true`},
		},
	}, defaultFolderConfig, buildFolder)

	stages.RegisterSource(stages.Info{
		ID:      "http-images",
		Summary: "Accepts pictures POSTed over HTTP; answers once the pipeline acknowledged them.",
		Description: `Listens on address and accepts POST requests on path (and below it) whose body is one picture:
Content-Type image/jpeg, image/png, image/bmp or application/octet-stream. The body becomes one
message of kind image; its name is the query parameter name, else the last path element below
path (POST /images/door-2026-01-02T15:04:05.jpg), and its node the node_header request header,
else the edge node's id.

Answers, as JSON: 200 {"accepted":1,"message":"<uuid>"} once the pipeline acknowledged the
message (the inference result goes on through the pipeline's sinks, it is not in the answer);
400 for a body that is not a JPEG, PNG or BMP picture or not the format its content type says
(once the body went to the pipeline's dead letters; 503 if they failed);
413 over max_body_bytes; 415 for other content types; 405 for other methods; 503 with
Retry-After when the pipeline rejected the picture or is shutting down.`,
		Produces: []string{stages.KindImage},
		Examples: []stages.Example{
			{Title: "Cameras on the site network POST snapshots", YAML: `type: http-images
address: 0.0.0.0:8081
path: /images/
node_header: X-Camera-Id`},
		},
	}, defaultHTTPConfig, buildHTTP)
}
