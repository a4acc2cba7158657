package plan

import (
	"reflect"
	"testing"
	"time"

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
		case reflect.Struct: // config.Duration
			f.Set(reflect.ValueOf(config.Duration{Duration: time.Duration(i+1) * time.Minute}))
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
		want := rv.Field(i).Interface()
		if d, ok := want.(config.Duration); ok {
			want = d.Duration
		}
		if !reflect.DeepEqual(got.Interface(), want) {
			t.Errorf("Host.%s = %v, want %v", name, got.Interface(), want)
		}
	}
}
