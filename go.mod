module github.com/golinkis/golinkis

go 1.26.8

require (
	github.com/google/btree v1.1.3 // indirect
	pgregory.net/rapid v1.3.0 // indirect
)
