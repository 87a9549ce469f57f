#!/bin/bash
# Offline builder of the runner images: no registry, only Debian's package
# mirror and `docker import`.  See README.md beside this file.
#
#   packaging/images/build.sh [RUNNER_BINARY] [IMAGE...]
#
# IMAGE is sh, python or c (or runbox/sh ...); default: all of them.
# Environment: DOCKER_HOST (as for the docker CLI), RUNBOXD_IMAGE_CACHE
# (default /var/cache/runboxd-images), RUNBOXD_DEBIAN_MIRROR (default
# http://deb.debian.org/debian), RUNBOXD_IMAGE_FORCE=1 to rebuild even when
# an image with the same recipe label exists.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${RUNBOXD_IMAGE_CACHE:-/var/cache/runboxd-images}
MIRROR=${RUNBOXD_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
BASE_TAR=$CACHE/debian-$SUITE-minbase.tar
ALL_IMAGES=(sh python c)
RUNNER_UID=1000
RUNNER_GID=1000
LABEL=io.runboxd.recipe
ROOTFS_REV=1 # bump when rootfs_debian changes: it keys the package caches

WORK=
cleanup() {
	if [[ -n $WORK && -d $WORK ]]; then
		local m
		# Deepest first: a failed debootstrap or apt step may leave proc/sys mounted.
		while read -r m; do
			umount -l "$m" || true
		done < <(awk -v w="$WORK/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r)
		rm -rf --one-file-system "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf 'build.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
now() { date +%s.%N; }
mb() { printf '%.1f' "$(echo "$1 / 1000000" | bc -l)"; }

# Installs a Debian package the builder needs, if its command is missing.
need() {
	local cmd=$1 pkg=$2
	command -v "$cmd" >/dev/null 2>&1 && return 0
	[[ $(id -u) -eq 0 ]] || die "$cmd is missing: apt-get install $pkg (as root)"
	log "installing $pkg"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$pkg" >&2 ||
		{ apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$pkg" >&2; }
}

# A static busybox: the sh image has no libc.
busybox_static() {
	local bb=/bin/busybox
	if ! [[ -x $bb ]] || readelf -l "$bb" 2>/dev/null | grep -q 'Requesting program interpreter'; then
		need apt-get apt
		log "installing busybox-static"
		DEBIAN_FRONTEND=noninteractive apt-get install -y busybox-static >&2 ||
			{ apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y busybox-static >&2; }
	fi
	readelf -l "$bb" | grep -q 'Requesting program interpreter' && die "$bb is not static"
	echo "$bb"
}

image_name() {
	local n=${1#runbox/}
	case $n in
	sh | python | c) echo "$n" ;;
	*) die "unknown image '$1' (known: ${ALL_IMAGES[*]})" ;;
	esac
}

# The recipe hash: this script, the image's recipe files and the runner.
recipe_hash() {
	local name=$1 runner=$2 sums
	[[ -f $HERE/$name/Dockerfile ]] || die "no recipe $HERE/$name/Dockerfile"
	sums=$(cd "$HERE" && sha256sum build.sh "$name"/* && sha256sum <"$runner")
	printf '%s\n' "$sums" | sha256sum | cut -c1-32
}

image_label() {
	docker image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$1" 2>/dev/null || true
}

# The files every image shares: user runbox, /tmp, the runner.
add_runner_files() {
	local dir=$1 runner=$2
	mkdir -p "$dir/etc" "$dir/tmp" "$dir/home/runbox" "$dir/usr/local/bin"
	chmod 1777 "$dir/tmp"
	# Stripped in the image only: the recipe hash is of the binary as built.
	if command -v strip >/dev/null; then
		install -m 0755 -s "$runner" "$dir/usr/local/bin/runbox-runner"
	else
		install -m 0755 "$runner" "$dir/usr/local/bin/runbox-runner"
	fi
	chown "$RUNNER_UID:$RUNNER_GID" "$dir/home/runbox"
	chmod 0755 "$dir/home/runbox"
}

# Writes /etc/passwd and /etc/group by hand (the sh image has no useradd).
write_users() {
	local dir=$1
	printf 'root:x:0:0:root:/root:/bin/sh\nrunbox:x:%d:%d:runbox:/home/runbox:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
		"$RUNNER_UID" "$RUNNER_GID" >"$dir/etc/passwd"
	printf 'root:x:0:\nrunbox:x:%d:\nnogroup:x:65534:\n' "$RUNNER_GID" >"$dir/etc/group"
	chmod 0644 "$dir/etc/passwd" "$dir/etc/group"
}

rootfs_sh() {
	local dir=$1 bb applet
	bb=$(busybox_static)
	mkdir -p "$dir/bin" "$dir/sbin" "$dir/usr/bin" "$dir/usr/sbin" "$dir/root" "$dir/etc"
	install -m 0755 "$bb" "$dir/bin/busybox"
	# Absolute links: they resolve inside the container's root.
	while read -r applet; do
		[[ $applet == bin/busybox ]] && continue
		mkdir -p "$dir/$(dirname "$applet")"
		ln -sf /bin/busybox "$dir/$applet"
	done < <("$dir/bin/busybox" --list-full)
	write_users "$dir"
}

# The shared Debian base, made once and kept as a tarball.
debian_base() {
	[[ -f $BASE_TAR ]] && return 0
	need debootstrap debootstrap
	mkdir -p "$CACHE"
	local t0 root
	t0=$(now)
	root=$WORK/base
	log "debootstrap $SUITE (minbase) from $MIRROR into the cache, once"
	debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
	rm -rf "${root:?}"/var/cache/apt/archives/*.deb "${root:?}"/var/lib/apt/lists/*
	tar -C "$root" --numeric-owner -cf "$BASE_TAR.tmp.$$" .
	mv "$BASE_TAR.tmp.$$" "$BASE_TAR"
	rm -rf --one-file-system "$root"
	log "base ready in $(printf '%.1f' "$(echo "$(now) - $t0" | bc)") s: $BASE_TAR"
}

# Runs a command in the chroot with /proc mounted (some maintainer scripts
# want it); the EXIT trap unmounts it if we die in between.
in_chroot() {
	local dir=$1
	shift
	mount -t proc proc "$dir/proc"
	local rc=0
	chroot "$dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
		LANG=C.UTF-8 "$@" || rc=$?
	umount "$dir/proc"
	return $rc
}

# A Debian rootfs with the image's packages, cached by package list.
rootfs_debian() {
	local name=$1 dir=$2 pkgs key pkgtar
	mapfile -t pkgs < <(grep -v '^[[:space:]]*\(#\|$\)' "$HERE/$name/packages")
	key=$({ echo "$SUITE $ROOTFS_REV"; printf '%s\n' "${pkgs[@]}"; } | sha256sum | cut -c1-16)
	pkgtar=$CACHE/debian-$SUITE-$name-$key.tar
	if [[ ! -f $pkgtar ]]; then
		debian_base
		mkdir -p "$dir"
		tar -C "$dir" --numeric-owner -xf "$BASE_TAR"
		cat >"$dir/etc/apt/sources.list" <<-EOF
			deb $MIRROR $SUITE main
			deb $MIRROR $SUITE-updates main
			deb ${MIRROR%/debian}/debian-security $SUITE-security main
		EOF
		cp -L /etc/resolv.conf "$dir/etc/resolv.conf"
		log "$name: apt-get install ${pkgs[*]}"
		in_chroot "$dir" sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" && apt-get clean' \
			sh "${pkgs[@]}" >"$WORK/apt-$name.log" 2>&1 ||
			{ tail -n 30 "$WORK/apt-$name.log" >&2; die "$name: apt-get failed"; }
		rm -rf "${dir:?}"/var/lib/apt/lists/* "${dir:?}"/var/cache/apt/*.bin \
			"${dir:?}"/var/cache/apt/archives/*.deb "${dir:?}"/var/log/apt/* \
			"${dir:?}"/var/log/dpkg.log "${dir:?}"/usr/share/doc/* "${dir:?}"/usr/share/man/* \
			"${dir:?}"/usr/share/info/*
		: >"$dir/etc/resolv.conf"
		in_chroot "$dir" sh -c "groupadd -g $RUNNER_GID runbox && useradd -u $RUNNER_UID -g $RUNNER_GID -d /home/runbox -M -s /bin/bash runbox"
		tar -C "$dir" --numeric-owner -cf "$pkgtar.tmp.$$" .
		mv "$pkgtar.tmp.$$" "$pkgtar"
		find "$CACHE" -maxdepth 1 -name "debian-$SUITE-$name-*.tar" ! -path "$pkgtar" -delete
	else
		mkdir -p "$dir"
		tar -C "$dir" --numeric-owner -xf "$pkgtar"
	fi
}

build_one() {
	local name=$1 runner=$2 ref=runbox/$1 hash t0 dir size secs old
	hash=$(recipe_hash "$name" "$runner")
	if [[ ${RUNBOXD_IMAGE_FORCE:-0} != 1 && $(image_label "$ref") == "$hash" ]]; then
		size=$(docker image inspect -f '{{.Size}}' "$ref")
		printf 'image %-14s up to date (recipe %s), %s MB\n' "$ref" "$hash" "$(mb "$size")"
		return 0
	fi
	t0=$(now)
	old=$(docker image inspect -f '{{.Id}}' "$ref" 2>/dev/null || true)
	dir=$WORK/$name
	mkdir -p "$dir"
	case $name in
	sh) rootfs_sh "$dir" ;;
	*) rootfs_debian "$name" "$dir" ;;
	esac
	add_runner_files "$dir" "$runner"
	tar -C "$dir" --numeric-owner -cf - . |
		docker import \
			--change 'USER runbox' \
			--change 'WORKDIR /home/runbox' \
			--change 'ENV LANG=C.UTF-8' \
			--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
			--change "LABEL $LABEL=$hash" \
			--change 'CMD ["/usr/local/bin/runbox-runner"]' \
			- "$ref" >/dev/null
	rm -rf --one-file-system "$dir"
	# The image this one replaces, unless a container still uses it.
	if [[ -n $old && $old != "$(docker image inspect -f '{{.Id}}' "$ref")" ]]; then
		docker rmi "$old" >/dev/null 2>&1 || true
	fi
	size=$(docker image inspect -f '{{.Size}}' "$ref")
	secs=$(printf '%.1f' "$(echo "$(now) - $t0" | bc)")
	printf 'image %-14s built in %6s s, %6s MB (recipe %s)\n' "$ref" "$secs" "$(mb "$size")" "$hash"
}

main() {
	local runner=$ROOT/build/rel/runbox-runner images=() a
	if [[ $# -gt 0 && -f $1 ]]; then
		runner=$1
		shift
	fi
	[[ -x $runner ]] || die "runner binary $runner not found: make it first (make), or pass its path"
	readelf -l "$runner" | grep -q 'Requesting program interpreter' &&
		die "$runner is dynamically linked; the images need the static runner"
	runner=$(cd "$(dirname "$runner")" && pwd)/$(basename "$runner")
	for a in "${@:-${ALL_IMAGES[@]}}"; do images+=("$(image_name "$a")"); done
	[[ $(id -u) -eq 0 ]] || die "run as root (chroot, file ownership in the images)"
	command -v docker >/dev/null || die "docker CLI not found"
	command -v bc >/dev/null || need bc bc
	docker version -f '{{.Server.Version}}' >/dev/null || die "cannot reach dockerd (DOCKER_HOST=${DOCKER_HOST:-unset})"
	WORK=$(mktemp -d /tmp/runbox-images.XXXXXX)
	for a in "${images[@]}"; do build_one "$a" "$runner"; done
}

main "$@"
