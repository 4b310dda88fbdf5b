package main

// The generic mode: `node-images -spec SPEC.json -out DIR` writes DIR/<file>, one image described by SPEC.json, and
// prints its path. Layers hold, in this order, directories, files, symlinks and copies of host files or directory
// trees; missing parent directories are added as root 0755. Copied files, directories and symlinks keep their host
// modes (and symlinks their targets); ownership is the one given, root by default, never the host's; timestamps are
// fixed as for the other images, so the same inputs give the same digests.
//
//	{
//	  "ref": "devx.local/devx-webhook:0.1.0",      full name, with a tag
//	  "file": "devx-webhook.tar",                  archive name in DIR
//	  "layers": [{
//	    "dirs":     [{"path": "/tmp", "mode": "1777"}],
//	    "files":    [{"path": "/etc/passwd", "content": "root:x:0:0:..."},
//	                 {"path": "/nodejs/bin/node", "from": "/host/node", "uid": 0, "gid": 0}],
//	    "symlinks": [{"path": "/lib64", "target": "usr/lib64"}],
//	    "copy":     [{"from": "/host/dist", "to": "/app/dist", "recursive": true, "uid": 0, "gid": 0}]
//	  }],
//	  "config": {"Entrypoint": [...], "Cmd": [...], "Env": [...], "User": "65532:65532", "WorkingDir": "/app",
//	             "ExposedPorts": {"8443/tcp": {}}, "Labels": {...}}
//	}
//
// A host path given in "from" is followed when it is a symlink; inside a copied tree symlinks stay symlinks. "mode" is
// octal; without it a file or directory taken from the host keeps its mode, a file with "content" is 0644 and a
// directory 0755. Unknown keys are an error, so that a misspelt one cannot be silently dropped.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

type imageSpecFile struct {
	Ref    string      `json:"ref"`
	File   string      `json:"file"`
	Layers []specLayer `json:"layers"`
	Config ociConfig   `json:"config"`
}

// ociConfig is the OCI image config's "config" object, the fields an image of this program sets.
type ociConfig struct {
	Entrypoint   []string            `json:"Entrypoint,omitempty"`
	Cmd          []string            `json:"Cmd,omitempty"`
	Env          []string            `json:"Env,omitempty"`
	User         string              `json:"User,omitempty"`
	WorkingDir   string              `json:"WorkingDir,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Labels       map[string]string   `json:"Labels,omitempty"`
}

type owner struct {
	UID int `json:"uid"`
	GID int `json:"gid"`
}

type specLayer struct {
	Dirs     []specDir     `json:"dirs"`
	Files    []specFile    `json:"files"`
	Symlinks []specSymlink `json:"symlinks"`
	Copy     []specCopy    `json:"copy"`
}

type specDir struct {
	Path string `json:"path"`
	Mode string `json:"mode"`
	owner
}

type specFile struct {
	Path    string  `json:"path"`
	Mode    string  `json:"mode"`
	Content *string `json:"content"`
	From    string  `json:"from"`
	owner
}

type specSymlink struct {
	Path   string `json:"path"`
	Target string `json:"target"`
}

type specCopy struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Recursive bool   `json:"recursive"`
	owner
}

func writeSpecImage(specPath, out string) (string, error) {
	raw, err := os.ReadFile(specPath)
	if err != nil {
		return "", err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var sf imageSpecFile
	if err := dec.Decode(&sf); err != nil {
		return "", fmt.Errorf("%s: %w", specPath, err)
	}
	s, err := sf.image()
	if err != nil {
		return "", fmt.Errorf("%s: %w", specPath, err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	archive := filepath.Join(out, s.file)
	return archive, writeArchive(archive, s)
}

func (sf imageSpecFile) image() (imageSpec, error) {
	if name := sf.Ref[strings.LastIndex(sf.Ref, "/")+1:]; !strings.Contains(name, ":") {
		return imageSpec{}, fmt.Errorf("ref %q has no tag", sf.Ref)
	}
	if sf.File == "" || sf.File != filepath.Base(sf.File) {
		return imageSpec{}, fmt.Errorf("file %q is not a plain file name", sf.File)
	}
	if len(sf.Layers) == 0 {
		return imageSpec{}, fmt.Errorf("no layers")
	}
	s := imageSpec{ref: sf.Ref, file: sf.File, config: sf.Config}
	for i, l := range sf.Layers {
		es, err := l.entries()
		if err != nil {
			return imageSpec{}, fmt.Errorf("layer %d: %w", i, err)
		}
		s.layers = append(s.layers, withParents(es))
	}
	return s, nil
}

func (l specLayer) entries() ([]entry, error) {
	var es []entry
	for _, d := range l.Dirs {
		p, mode, err := imagePathMode(d.Path, d.Mode, 0o755)
		if err != nil {
			return nil, err
		}
		es = append(es, dir(p, mode, d.UID, d.GID))
	}
	for _, f := range l.Files {
		e, err := f.entry()
		if err != nil {
			return nil, err
		}
		es = append(es, e)
	}
	for _, s := range l.Symlinks {
		p, _, err := imagePathMode(s.Path, "", 0)
		if err != nil {
			return nil, err
		}
		if s.Target == "" {
			return nil, fmt.Errorf("symlink %q: no target", s.Path)
		}
		es = append(es, entry{path: p, mode: 0o777, link: s.Target})
	}
	for _, c := range l.Copy {
		ces, err := c.entries()
		if err != nil {
			return nil, err
		}
		es = append(es, ces...)
	}
	return es, nil
}

func (f specFile) entry() (entry, error) {
	if (f.Content == nil) == (f.From == "") {
		return entry{}, fmt.Errorf("file %q: give exactly one of content and from", f.Path)
	}
	if f.Content != nil {
		p, mode, err := imagePathMode(f.Path, f.Mode, 0o644)
		return file(p, mode, f.UID, f.GID, []byte(*f.Content)), err
	}
	info, err := os.Stat(f.From)
	if err != nil {
		return entry{}, err
	}
	if !info.Mode().IsRegular() {
		return entry{}, fmt.Errorf("file %q: %s is not a regular file", f.Path, f.From)
	}
	p, mode, err := imagePathMode(f.Path, f.Mode, tarMode(info.Mode()))
	return entry{path: p, mode: mode, uid: f.UID, gid: f.GID, src: f.From}, err
}

// entries: the host file or directory at From as To; a directory with all below it when Recursive.
func (c specCopy) entries() ([]entry, error) {
	root, err := filepath.EvalSymlinks(c.From)
	if err != nil {
		return nil, err
	}
	to, _, err := imagePathMode(c.To, "", 0)
	if err != nil {
		return nil, err
	}
	info, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() || !c.Recursive {
		e, err := hostEntry(root, to, info, c.owner)
		return []entry{e}, err
	}
	var es []entry
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		e, err := hostEntry(p, path.Join(to, filepath.ToSlash(rel)), info, c.owner)
		es = append(es, e)
		return err
	})
	return es, err
}

// hostEntry: one host directory, regular file or symlink (info as Lstat gives it) at image path p.
func hostEntry(hostPath, p string, info fs.FileInfo, o owner) (entry, error) {
	e := entry{path: p, mode: tarMode(info.Mode()), uid: o.UID, gid: o.GID}
	switch {
	case info.IsDir():
		e.dir = true
	case info.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(hostPath)
		e.link, e.mode = target, 0o777
		return e, err
	case info.Mode().IsRegular():
		e.src = hostPath
	default:
		return e, fmt.Errorf("%s: neither a directory, a regular file nor a symlink", hostPath)
	}
	return e, nil
}

// tarMode: the permission bits of a Go file mode, with setuid, setgid and sticky as tar has them.
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	for bit, tarBit := range map[fs.FileMode]int64{fs.ModeSetuid: 0o4000, fs.ModeSetgid: 0o2000, fs.ModeSticky: 0o1000} {
		if m&bit != 0 {
			mode |= tarBit
		}
	}
	return mode
}

// imagePathMode checks an absolute image path and returns it without its leading slash, with the octal mode given or
// the default.
func imagePathMode(p, mode string, def int64) (string, int64, error) {
	clean := path.Clean(p)
	if !path.IsAbs(p) || clean != p || clean == "/" {
		return "", 0, fmt.Errorf("image path %q: not a clean absolute path below /", p)
	}
	if mode == "" {
		return clean[1:], def, nil
	}
	m, err := strconv.ParseInt(mode, 8, 64)
	if err != nil || m < 0 || m > 0o7777 {
		return "", 0, fmt.Errorf("%s: mode %q is not octal permission bits", p, mode)
	}
	return clean[1:], m, nil
}

// withParents adds, before its first use, each parent directory the layer does not list (root 0755), as an image
// builder's tar has them; an entry repeated later is dropped (the first one wins).
func withParents(es []entry) []entry {
	seen := map[string]bool{}
	var out []entry
	var add func(e entry)
	add = func(e entry) {
		if seen[e.path] {
			return
		}
		if parent := path.Dir(e.path); parent != "." {
			add(dir(parent, 0o755, 0, 0))
		}
		seen[e.path] = true
		out = append(out, e)
	}
	for _, e := range es {
		add(e)
	}
	return out
}
