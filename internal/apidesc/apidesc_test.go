package apidesc

import (
	"strings"
	"testing"

	_ "google.golang.org/grpc/health/grpc_health_v1" // registers grpc.health.v1 globally
	"google.golang.org/protobuf/reflect/protoreflect"

	cdcstreamv1 "github.com/cdcstream/cdcstream/gen/cdcstream/v1"
)

// TestCommentsPresent: the embedded descriptors carry the proto comments users read.
func TestCommentsPresent(t *testing.T) {
	r, err := Resolver()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[protoreflect.FullName]string{
		"cdcstream.v1.ChangeStreamService": "Honest failure",
		"cdcstream.v1.ChangeEvent":         "One change to one node or relationship",
		"cdcstream.v1.Value":               "without loss",
	} {
		d, err := r.FindDescriptorByName(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c := d.ParentFile().SourceLocations().ByDescriptor(d).LeadingComments
		if !strings.Contains(strings.ToLower(c), strings.ToLower(want)) {
			t.Errorf("%s: leading comment %q lacks %q", name, c, want)
		}
	}
}

// TestMatchesGenerated: the embedded set describes the same API as the generated code, so a
// stale descriptor set cannot serve reflection answers that disagree with the server.
func TestMatchesGenerated(t *testing.T) {
	f, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	for _, gen := range []protoreflect.FileDescriptor{cdcstreamv1.File_cdcstream_v1_service_proto, cdcstreamv1.File_cdcstream_v1_change_proto,
		cdcstreamv1.File_cdcstream_v1_cursor_proto, cdcstreamv1.File_cdcstream_v1_value_proto, cdcstreamv1.File_cdcstream_v1_selector_proto} {
		emb, err := f.FindFileByPath(gen.Path())
		if err != nil {
			t.Fatal(err)
		}
		sameMessages(t, gen, emb)
	}
}

func sameMessages(t *testing.T, gen, emb protoreflect.FileDescriptor) {
	t.Helper()
	if gen.Messages().Len() != emb.Messages().Len() || gen.Enums().Len() != emb.Enums().Len() {
		t.Fatalf("%s: message or enum count differs between gen/ and the embedded descriptors", gen.Path())
	}
	for i := 0; i < gen.Messages().Len(); i++ {
		gm := gen.Messages().Get(i)
		em := emb.Messages().ByName(gm.Name())
		if em == nil || em.Fields().Len() != gm.Fields().Len() {
			t.Fatalf("message %s differs between gen/ and the embedded descriptors", gm.FullName())
		}
		for j := 0; j < gm.Fields().Len(); j++ {
			if gf, ef := gm.Fields().Get(j), em.Fields().ByNumber(gm.Fields().Get(j).Number()); ef == nil || ef.Name() != gf.Name() || ef.Kind() != gf.Kind() {
				t.Fatalf("field %s differs between gen/ and the embedded descriptors", gf.FullName())
			}
		}
	}
}

// TestFallback: names outside cdcstream resolve from the global registry.
func TestFallback(t *testing.T) {
	r, err := Resolver()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.FindDescriptorByName("grpc.health.v1.HealthCheckRequest"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.FindDescriptorByName("no.such.Thing"); err == nil {
		t.Fatal("unknown name resolved")
	}
}
