package plan

import (
	"reflect"
	"testing"

	"github.com/tagwatch/tagwatch/config"
)

// TestHostsMapsEveryField: every setting of a config registry reaches the
// registry client (Hosts is the one mapping, used by run and by test).
func TestHostsMapsEveryField(t *testing.T) {
	var reg config.Registry
	rv := reflect.ValueOf(&reg).Elem()
	for i := range rv.NumField() {
		f := rv.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("v-" + rv.Type().Field(i).Name)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Float64:
			f.SetFloat(float64(i) + 0.5)
		default:
			t.Fatalf("config.Registry.%s: kind %s not covered by this test", rv.Type().Field(i).Name, f.Kind())
		}
	}
	hosts := Hosts(&config.Config{Registries: []config.Registry{reg}})
	if len(hosts) != 1 {
		t.Fatalf("Hosts = %+v, want one host", hosts)
	}
	hv := reflect.ValueOf(hosts[0])
	for i := range rv.NumField() {
		name := rv.Type().Field(i).Name
		got := hv.FieldByName(name)
		if !got.IsValid() {
			t.Errorf("registry.Host has no field %s (config.Registry has)", name)
			continue
		}
		if !reflect.DeepEqual(got.Interface(), rv.Field(i).Interface()) {
			t.Errorf("Host.%s = %v, want %v", name, got.Interface(), rv.Field(i).Interface())
		}
	}
}
