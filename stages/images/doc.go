// Package images holds the sources of pictures for the detect stage: "images"
// watches a folder, and every new (or rewritten) JPEG, PNG or BMP file in it
// becomes one message of kind image; "http-images" takes pictures POSTed over
// HTTP. The payload is the file's bytes as they are; metadata edgeflow-image-name
// carries its name. Both check that a payload is a picture they can name the
// format of before it enters the pipeline, and move on only once the pipeline
// acknowledged it.
//
// Pictures get sources of their own rather than a mode of the file and http
// sources: those carry readings, and a pipeline's payload kinds are checked
// per source type when it is loaded.
package images
