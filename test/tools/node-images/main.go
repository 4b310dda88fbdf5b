// node-images writes the images the test node runs, as OCI image archives for `ctr images import`, without a
// registry or a container engine: each is a gzip'd layer or two, a config and a manifest, laid out as the OCI image
// layout in one tar. They stand in for images the node cannot pull:
//
//	devx.local/pause:1             registry.k8s.io/pause (the pod sandbox), from ./pause
//	devx.local/syncthing:<version> syncthing/syncthing:1.27 (the sidecar): /bin/syncthing, a busybox sh,
//	                               HOME=/var/syncthing owned by uid 1000, as the official image is laid out
//	devx.local/dev:1               a user's dev image: a shell and core utilities (busybox), running as root
//	devx.local/dev-nonroot:1       the same, with the image's default user 2000:2000
//	devx.local/reviews:1           a bookinfo-like app for the pods before dev mode: busybox httpd on :9080 with
//	                               /health for its probes
//
// Everything is written with fixed timestamps and ownership, so the same inputs give the same digests.
//
//	node-images -out DIR -busybox /bin/busybox -pause PAUSE -syncthing SYNCTHING -syncthing-version 1.27.12
//
// A second, generic mode writes one image that a JSON file describes (spec.go), e.g. devx-webhook's own image
// (tools/devx-image.ts):
//
//	node-images -spec SPEC.json -out DIR
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// entry is one file, directory or symlink of a layer.
type entry struct {
	path     string // absolute path in the image, without the leading slash
	mode     int64  // permission bits (and setuid/sticky)
	uid, gid int
	dir      bool
	link     string // symlink target, when set
	data     []byte
	src      string // a host file whose content is read when the layer is written, instead of data
}

type imageSpec struct {
	ref    string // full name, e.g. devx.local/dev:1
	file   string // archive file name in the output directory
	layers [][]entry
	config any // the OCI config's "config" object (Env, Cmd, Entrypoint, User, WorkingDir, ExposedPorts, Labels)
}

var epoch = time.Unix(0, 0).UTC()

func main() {
	out := flag.String("out", "", "output directory")
	busybox := flag.String("busybox", "/bin/busybox", "a static busybox")
	pause := flag.String("pause", "", "the pause program (built from ./pause)")
	syncthing := flag.String("syncthing", "", "the syncthing binary of the sidecar image")
	syncthingVersion := flag.String("syncthing-version", "", "its version (the sidecar image's tag)")
	specFile := flag.String("spec", "", "write the one image this JSON file describes instead (see spec.go)")
	flag.Parse()
	if *specFile != "" && *out != "" {
		path, err := writeSpecImage(*specFile, *out)
		check(err)
		fmt.Println(path)
		return
	}
	if *out == "" || *pause == "" || *syncthing == "" || *syncthingVersion == "" {
		fail("usage: node-images -out DIR -busybox BUSYBOX -pause PAUSE -syncthing SYNCTHING -syncthing-version VERSION\n" +
			"   or: node-images -spec SPEC.json -out DIR")
	}
	base, err := busyboxLayer(*busybox)
	check(err)
	specs := []imageSpec{
		{ref: "devx.local/pause:1", file: "pause.tar", layers: [][]entry{{file("pause", 0o755, 0, 0, read(*pause))}},
			config: map[string]any{"Entrypoint": []string{"/pause"}, "User": "65535:65535"}},
		{ref: "devx.local/syncthing:" + *syncthingVersion, file: "syncthing.tar",
			layers: [][]entry{base, {
				file("bin/syncthing", 0o755, 0, 0, read(*syncthing)),
				dir("var", 0o755, 0, 0), dir("var/syncthing", 0o755, 1000, 1000),
			}},
			config: map[string]any{
				"Env": []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/var/syncthing",
					"STGUIADDRESS=0.0.0.0:8384", "STHOMEDIR=/var/syncthing/config", "PUID=1000", "PGID=1000"},
				"Entrypoint":   []string{"/bin/syncthing"},
				"ExposedPorts": map[string]any{"8384/tcp": map[string]any{}, "22000/tcp": map[string]any{}},
			}},
		devImage("devx.local/dev:1", "dev.tar", base, ""),
		devImage("devx.local/dev-nonroot:1", "dev-nonroot.tar", base, "2000:2000"),
		{ref: "devx.local/reviews:1", file: "reviews.tar",
			layers: [][]entry{base, {
				dir("srv", 0o755, 0, 0), dir("srv/www", 0o755, 0, 0),
				file("srv/www/index.html", 0o644, 0, 0, []byte("reviews\n")),
				file("srv/www/health", 0o644, 0, 0, []byte("ok\n")),
			}},
			config: map[string]any{
				"Env":          []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
				"Cmd":          []string{"httpd", "-f", "-v", "-p", "9080", "-h", "/srv/www"},
				"ExposedPorts": map[string]any{"9080/tcp": map[string]any{}},
			}},
	}
	check(os.MkdirAll(*out, 0o755))
	var index []map[string]string
	for _, s := range specs {
		check(writeArchive(filepath.Join(*out, s.file), s))
		index = append(index, map[string]string{"ref": s.ref, "file": s.file})
	}
	b, _ := json.MarshalIndent(index, "", "  ")
	check(os.WriteFile(filepath.Join(*out, "images.json"), append(b, '\n'), 0o644))
}

func devImage(ref, name string, base []entry, user string) imageSpec {
	cfg := map[string]any{
		"Env":        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		"Cmd":        []string{"sh"},
		"WorkingDir": "/",
	}
	if user != "" {
		cfg["User"] = user
	}
	return imageSpec{ref: ref, file: name, layers: [][]entry{base, {dir("home", 0o755, 0, 0), dir("home/dev", 0o755, 2000, 2000)}}, config: cfg}
}

// busyboxLayer: /bin/busybox and a symlink per applet, /etc/passwd and /etc/group, /root, /tmp.
func busyboxLayer(busybox string) ([]entry, error) {
	list, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list: %w", busybox, err)
	}
	es := []entry{
		dir("bin", 0o755, 0, 0), dir("etc", 0o755, 0, 0), dir("root", 0o700, 0, 0), dir("tmp", 0o1777, 0, 0),
		file("bin/busybox", 0o755, 0, 0, read(busybox)),
		file("etc/passwd", 0o644, 0, 0, []byte("root:x:0:0:root:/root:/bin/sh\nsyncthing:x:1000:1000::/var/syncthing:/bin/sh\ndev:x:2000:2000::/home/dev:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n")),
		file("etc/group", 0o644, 0, 0, []byte("root:x:0:\nsyncthing:x:1000:\ndev:x:2000:\nnogroup:x:65534:\n")),
	}
	applets := strings.Fields(string(list))
	sort.Strings(applets)
	for _, a := range applets {
		if a != "busybox" && !strings.Contains(a, "/") {
			es = append(es, entry{path: "bin/" + a, mode: 0o777, link: "busybox"})
		}
	}
	return es, nil
}

func file(p string, mode int64, uid, gid int, data []byte) entry {
	return entry{path: p, mode: mode, uid: uid, gid: gid, data: data}
}

func dir(p string, mode int64, uid, gid int) entry {
	return entry{path: p, mode: mode, uid: uid, gid: gid, dir: true}
}

func read(p string) []byte {
	b, err := os.ReadFile(p)
	check(err)
	return b
}

type blob struct {
	mediaType string
	data      []byte
}

func (b blob) digest() string {
	sum := sha256.Sum256(b.data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (b blob) descriptor() map[string]any {
	return map[string]any{"mediaType": b.mediaType, "digest": b.digest(), "size": len(b.data)}
}

// writeArchive writes one image as an OCI image layout in a tar.
func writeArchive(path string, s imageSpec) error {
	var blobs []blob
	var layerDescs []map[string]any
	var diffIDs []string
	for _, l := range s.layers {
		raw, err := layerTar(l)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(raw)
		diffIDs = append(diffIDs, "sha256:"+hex.EncodeToString(sum[:]))
		gz, err := gzipBytes(raw)
		if err != nil {
			return err
		}
		b := blob{"application/vnd.oci.image.layer.v1.tar+gzip", gz}
		blobs = append(blobs, b)
		layerDescs = append(layerDescs, b.descriptor())
	}
	cfg := mustJSON(map[string]any{
		"architecture": runtime.GOARCH, "os": "linux", "created": epoch.Format(time.RFC3339),
		"config": s.config,
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	cfgBlob := blob{"application/vnd.oci.image.config.v1+json", cfg}
	manifest := blob{"application/vnd.oci.image.manifest.v1+json", mustJSON(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": cfgBlob.descriptor(), "layers": layerDescs,
	})}
	blobs = append(blobs, cfgBlob, manifest)
	md := manifest.descriptor()
	md["annotations"] = map[string]string{
		"io.containerd.image.name":          s.ref,
		"org.opencontainers.image.ref.name": s.ref[strings.LastIndex(s.ref, ":")+1:],
	}
	md["platform"] = map[string]string{"architecture": runtime.GOARCH, "os": "linux"}
	index := mustJSON(map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []any{md}})

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	put := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := put("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, b := range blobs {
		if seen[b.digest()] {
			continue
		}
		seen[b.digest()] = true
		if err := put("blobs/sha256/"+strings.TrimPrefix(b.digest(), "sha256:"), b.data); err != nil {
			return err
		}
	}
	if err := put("index.json", index); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func layerTar(es []entry) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := &tar.Header{Name: e.path, Mode: e.mode, Uid: e.uid, Gid: e.gid, ModTime: epoch, Format: tar.FormatPAX}
		switch {
		case e.dir:
			h.Typeflag, h.Name = tar.TypeDir, e.path+"/"
		case e.link != "":
			h.Typeflag, h.Linkname = tar.TypeSymlink, e.link
		default:
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if e.src != "" {
			info, err := os.Stat(e.src)
			if err != nil {
				return nil, err
			}
			h.Size = info.Size()
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			if err := writeContent(tw, e); err != nil {
				return nil, err
			}
		}
	}
	err := tw.Close()
	return buf.Bytes(), err
}

// writeContent writes a regular file's content: its data, or its host file's (which must not change meanwhile).
func writeContent(w io.Writer, e entry) error {
	if e.src == "" {
		_, err := w.Write(e.data)
		return err
	}
	f, err := os.Open(e.src)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zw.ModTime = epoch
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	err := zw.Close()
	return buf.Bytes(), err
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	check(err)
	return b
}

func check(err error) {
	if err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "node-images:", msg)
	os.Exit(1)
}
