module github.com/mattn/go-tflite

go 1.22
