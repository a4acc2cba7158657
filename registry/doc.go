// Package registry is the only package that talks to container registries,
// through go-containerregistry: tag lists, digests, image metadata, retagging.
package registry
