"""Label Studio tasks for the files of a folder at a pinned commit, served
by `git lode serve`.

    git lode serve v1 &                      # prints http://127.0.0.1:8417/
    python3 -m lodefs.labelstudio --url http://127.0.0.1:8417/ v1 images > tasks.json

tasks.json is a Label Studio import file: one task per file (by default
the image files) under FOLDER, in path order, whose URL names the commit
REV resolved to (so the tasks keep showing the same bytes whatever
happens to the branch or tag later), with the file's path and lode oid
beside it. Import it in Label Studio (Import, or the API's
/api/projects/ID/import); its data key ("image" unless --key says
otherwise) is what a labeling config such as <Image name="img"
value="$image"/> reads.
"""

import argparse
import json
import sys
import urllib.parse

import lodefs

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".svg")


def tasks(base_url, rev, folder, fs=None, key="image", extensions=IMAGE_EXTENSIONS):
    """The tasks for the files under folder at rev (fs: a LodeFileSystem;
    default: the repository around the working directory)."""
    fs = fs or lodefs.LodeFileSystem()
    commit = fs.resolve(rev)
    folder = folder.strip("/")
    root = commit + ("/" + folder if folder else "")
    base = base_url.rstrip("/") + "/"
    out = []
    for p in sorted(fs.find(root, detail=True).items()):
        path, info = p
        rel = path[len(commit) + 1:]
        if extensions and not rel.lower().endswith(tuple(extensions)):
            continue
        url = base + commit + "/" + "/".join(urllib.parse.quote(c, safe="") for c in rel.split("/"))
        out.append({"data": {key: url, "lode_path": rel, "lode_oid": info["oid"], "lode_commit": commit}})
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m lodefs.labelstudio", description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="the URL git lode serve printed (http://HOST:PORT/)")
    ap.add_argument("--repo", help="the repository (default: the one around the working directory)")
    ap.add_argument("--key", default="image", help="the task data key (default: image)")
    ap.add_argument("--all", action="store_true", help="every file, not only images")
    ap.add_argument("rev", metavar="REV")
    ap.add_argument("folder", metavar="FOLDER")
    a = ap.parse_args(argv)
    fs = lodefs.LodeFileSystem(repo=a.repo)
    try:
        ts = tasks(a.url, a.rev, a.folder, fs=fs, key=a.key, extensions=None if a.all else IMAGE_EXTENSIONS)
    except (OSError, ValueError) as e:
        print("lodefs.labelstudio: %s" % e, file=sys.stderr)
        return 1
    json.dump(ts, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
