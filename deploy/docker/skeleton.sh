#!/bin/sh
# skeleton.sh SRC DEST: copy the Cargo workspace at SRC to DEST as manifests only (the root
# Cargo.toml and Cargo.lock, every member's Cargo.toml), with an empty file for each target,
# so that `cargo build` in DEST compiles the dependencies and nothing of ours.
#
# deploy/Dockerfile runs it in its `skeleton` stage: the skeleton's content changes only when a
# manifest or the lock file does, so the dependency layer built from it stays cached while the
# sources change (cargo-chef's idea, without the tool). deploy/check runs it too and asks cargo
# whether the skeleton is a valid workspace for the locked dependencies.
# POSIX sh, find and awk: what the rust:*-slim and debian:*-slim images have.
set -eu

src=$1
dest=$2
mkdir -p "$dest"
cp "$src/Cargo.toml" "$src/Cargo.lock" "$dest/"

# The target files a manifest names: [lib] (src/lib.rs unless `path`), [[bin]] (src/main.rs for
# the package's own name, else src/bin/NAME.rs), [[bench]], [[example]], [[test]]
# (benches/, examples/, tests/NAME.rs), each unless it gives `path`.
targets() {
    awk '
        function value(line) {
            sub(/^[^=]*=[ \t]*["\047]/, "", line)
            sub(/["\047].*$/, "", line)
            return line
        }
        function emit() {
            if (kind == "") return
            if (path != "") print path
            else if (kind == "lib") print "src/lib.rs"
            else if (kind == "bin" && name == package) print "src/main.rs"
            else if (kind == "bin") print "src/bin/" name ".rs"
            else if (kind == "bench") print "benches/" name ".rs"
            else print kind "s/" name ".rs"
        }
        /^\[package\][ \t]*$/ { emit(); kind = ""; section = "package"; next }
        /^\[lib\][ \t]*$/ { emit(); kind = "lib"; name = ""; path = ""; section = ""; next }
        /^\[\[(bin|bench|example|test)\]\][ \t]*$/ {
            emit(); kind = $0; gsub(/[\[\] \t]/, "", kind); name = ""; path = ""; section = ""; next
        }
        /^\[/ { emit(); kind = ""; section = ""; next }
        section == "package" && /^name[ \t]*=/ { package = value($0) }
        kind != "" && /^name[ \t]*=/ { name = value($0) }
        kind != "" && /^path[ \t]*=/ { path = value($0) }
        END { emit() }
    ' "$1"
}

cd "$src"
find . \( -path ./target -o -path ./.git -o -name node_modules \) -prune -o \
    -name Cargo.toml ! -path ./Cargo.toml -print |
while IFS= read -r manifest; do
    dir=${manifest%/Cargo.toml}
    mkdir -p "$dest/$dir/src"
    cp "$manifest" "$dest/$manifest"
    # An empty library for every member (cargo needs a target even where the manifest names
    # none), and `fn main() {}` for each other target the manifest names.
    : > "$dest/$dir/src/lib.rs"
    targets "$manifest" | while IFS= read -r target; do
        [ "$target" = src/lib.rs ] && continue
        mkdir -p "$dest/$dir/$(dirname "$target")"
        echo 'fn main() {}' > "$dest/$dir/$target"
    done
done
