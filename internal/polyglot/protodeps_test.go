package polyglot

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// TestProtoDepsMatchGenproto compiles examples/proto-deps with protoc and requires every
// message and field it declares to be declared alike (full name, number, type, label) in the
// google.rpc definitions the server and the Go client are built with (genproto), and the file
// options that name the generated code to be the same: the consumers decode exactly what the
// server encodes.
func TestProtoDepsMatchGenproto(t *testing.T) {
	if n := lookPaths("protoc"); n != "" {
		missing(t, "protoc missing (Debian protobuf-compiler): %s", installHint)
	}
	deps, err := protoDepFiles()
	if err != nil {
		t.Fatal(err)
	}
	set := filepath.Join(t.TempDir(), "deps.pb")
	if len(deps) != 2 {
		t.Fatalf("examples/proto-deps holds %v, want google/rpc/status.proto and google/rpc/error_details.proto", deps)
	}
	if _, err := run(protoDepsDir(), nil, time.Minute, "protoc",
		append([]string{"-I", protoDepsDir(), "--descriptor_set_out=" + set}, deps...)...); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(set)
	if err != nil {
		t.Fatal(err)
	}
	var fds descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(raw, &fds); err != nil {
		t.Fatal(err)
	}
	upstream := map[string]protoreflect.FileDescriptor{
		"google/rpc/status.proto":        rpcstatus.File_google_rpc_status_proto,
		"google/rpc/error_details.proto": errdetails.File_google_rpc_error_details_proto,
	}
	for _, f := range fds.GetFile() {
		up, ok := upstream[f.GetName()]
		if !ok {
			t.Errorf("%s: not a google.rpc file the server uses", f.GetName())
			continue
		}
		want := protodesc.ToFileDescriptorProto(up)
		if f.GetPackage() != want.GetPackage() {
			t.Errorf("%s: package %q, want %q", f.GetName(), f.GetPackage(), want.GetPackage())
		}
		if g, w := f.GetOptions(), want.GetOptions(); g.GetJavaPackage() != w.GetJavaPackage() ||
			g.GetJavaOuterClassname() != w.GetJavaOuterClassname() || g.GetJavaMultipleFiles() != w.GetJavaMultipleFiles() ||
			g.GetGoPackage() != w.GetGoPackage() {
			t.Errorf("%s: options %v, want those of genproto %v", f.GetName(), g, w)
		}
		if len(f.GetMessageType()) == 0 {
			t.Errorf("%s declares no message", f.GetName())
		}
		compareMessages(t, f.GetPackage(), f.GetMessageType(), want.GetMessageType())
	}
}

// compareMessages requires each message of got (in scope) to exist in want with each of its
// fields declared alike, recursively.
func compareMessages(t *testing.T, scope string, got, want []*descriptorpb.DescriptorProto) {
	t.Helper()
	byName := map[string]*descriptorpb.DescriptorProto{}
	for _, m := range want {
		byName[m.GetName()] = m
	}
	for _, m := range got {
		name := scope + "." + m.GetName()
		w, ok := byName[m.GetName()]
		if !ok {
			t.Errorf("%s: no such message in genproto", name)
			continue
		}
		fields := map[int32]*descriptorpb.FieldDescriptorProto{}
		for _, f := range w.GetField() {
			fields[f.GetNumber()] = f
		}
		for _, f := range m.GetField() {
			wf, ok := fields[f.GetNumber()]
			if !ok {
				t.Errorf("%s: field %d (%s) not in genproto", name, f.GetNumber(), f.GetName())
				continue
			}
			if f.GetName() != wf.GetName() || f.GetType() != wf.GetType() || f.GetLabel() != wf.GetLabel() || f.GetTypeName() != wf.GetTypeName() {
				t.Errorf("%s: field %d is %s %v %v %s, genproto's is %s %v %v %s", name, f.GetNumber(),
					f.GetName(), f.GetLabel(), f.GetType(), f.GetTypeName(), wf.GetName(), wf.GetLabel(), wf.GetType(), wf.GetTypeName())
			}
		}
		compareMessages(t, name, m.GetNestedType(), w.GetNestedType())
	}
}
