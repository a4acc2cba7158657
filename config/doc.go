// Package config loads, defaults and validates tagwatch.yaml (DESIGN.md §1).
package config
