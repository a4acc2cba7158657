// Package writeback edits environment files in place, changing only the
// scalars it must. It works on a directory and knows nothing of git,
// registries or policies: getting the edited files committed and pushed is
// the job of package gitrepo, and the reconcile loop composes the two.
//
// Overlays are written and reviewed by people, so an edit must look like one
// a careful person would make: a round trip through a YAML library drops
// blank lines and a leading "---", moves comments, re-indents sequences and
// rewrites block scalars. writeback therefore never re-serialises a file.
// It parses it with kyaml to find the nodes (the images entry of a
// kustomization, a dotted field of a Helm values file, a scalar carrying a
// marker comment), takes each node's line and column from the parser, and
// splices the new scalar text into the original bytes. Every other byte stays:
// comments, blank lines, quoting, anchors, CRLF line endings, a byte order
// mark and a missing final newline. Text that has to be added (a newTag
// line, a new images entry, the images field itself) copies the
// indentation, sequence style and line endings of the file around it.
//
// Values stay strings: a plain scalar that would read back as a number,
// boolean or null under YAML 1.1 or 1.2 ("1.20", "1e3", "0x1F", "010",
// "yes") is double-quoted; otherwise the quoting of the replaced scalar is
// kept. Before a file is replaced (atomically, keeping its mode) the edited
// bytes are parsed again and the value read back; an edit that cannot be
// verified is refused and nothing is written. A write whose value is already
// there changes no file, so Write is safe to repeat.
//
// Four kinds of Target are written:
//
//   - Kustomize: the images entry named Target.Name in the kustomization of
//     Target.Path (kustomization.yaml, kustomization.yml or Kustomization).
//     newTag, digest and, when the repository changes, newName are set; a
//     stale digest goes when only a tag is written and a stale newTag when
//     only a digest is; the entry, and images itself, are added when missing.
//   - Helm: dotted fields of a values file ("image.tag",
//     "containers[0].image"), either one field holding name:tag[@digest] or
//     repository, tag and digest fields. Without a digest field a digest is
//     written as "tag@sha256:…". Missing fields are not created.
//   - Marker: every scalar in the YAML files under Target.Path whose line
//     comment is {"$tagwatch": "<alias>"} (the whole reference) or
//     "<alias>:tag", "<alias>:name", "<alias>:digest" (one part).
//   - ArgoSource: Argo CD's parameter override file (.argocd-source-<app>.yaml),
//     as Argo CD Image Updater writes it: the kustomize.images entry
//     "[name=]newName:tag[@digest]" of Target.Name, or Helm parameters
//     (helm.parameters[].name/value). The file, the entry and the parameters
//     are created when missing, in Argo CD's format.
//
// Refusals name the file and line and wrap a sentinel (ErrMalformedYAML,
// ErrNotFound, ErrOutsideRepo, ErrInvalidValue, ErrInvalidTarget): a file
// that does not parse, duplicate images entries, a path leaving the
// repository (absolute, "..", or a symlink resolving outside), an invalid
// tag, digest or repository name, a value reached through a YAML alias.
package writeback
