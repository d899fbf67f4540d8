module github.com/kvops/operator

go 1.26.0

require github.com/google/go-cmp v0.7.0

require (
	github.com/docker/docker v28.5.2+incompatible // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	go.uber.org/goleak v1.3.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
