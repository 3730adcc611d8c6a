#!/usr/bin/env bash
# Package checks: packs PokeClassifier and PokeClassifier.TorchSharp into a temporary local feed, then
#   A. quick start from the core package: a fresh console project outside the repo references PokeClassifier (only) from that
#      feed, runs samples/QuickStart/Program.cs on 4 classes of drawn images (tests/CacheProbe draw), and must print an accuracy
#      line, write model.zip, get bin/.../DnnImageModels/ResNet18Onnx/ResNet18.onnx through the package's build props, and resolve
#      no TorchSharp, libtorch, TorchVision or PyBridge;
#   B. ML.NET only: a second fresh project referencing only ML.NET packages loads check A's model.zip with MLContext.Model.Load
#      and must predict the same labels as the library did for the same images;
#   C. TorchSharp: a fresh project referencing PokeClassifier, PokeClassifier.TorchSharp and TorchSharp-cpu trains a TorchSharp
#      head on the same images, saves and reloads it; the package's build props must have patched the output's libLibTorchSharp.so
#      where the system needs it;
#   D. core without TorchSharp: check A's project asks for TorchSharp features (check C's model, a custom head, fine-tuning, a
#      time budget, a torchvision and a TorchSharp backbone) and must get one line naming PokeClassifier.TorchSharp for each.
# Usage: tests/package/run.sh   (keep temp dirs: KEEP_TMP=1)
# Prints `package: N passed, M failed` last; exits non-zero on any failure.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null || (cd "$HERE/../.." && pwd))"
passed=0
failed=0

say() { printf '[package] %s\n' "$*"; }

# run_logged NAME CMD...: runs CMD with its output in $LOGS/NAME.log; on failure shows the log's tail.
run_logged() {
  local name="$1"
  shift
  local rc=0
  "$@" >"$LOGS/$name.log" 2>&1 || rc=$?
  if [[ $rc == 0 ]]; then
    return 0
  fi
  say "FAILED ($rc): $*"
  tail -n 40 "$LOGS/$name.log" | sed 's/^/    /'
  return 1
}

finish() {
  local rc=$?
  if [[ -n "${TMP:-}" && -d "$TMP" ]]; then
    if [[ "${KEEP_TMP:-0}" == 1 ]]; then
      say "kept $TMP"
    else
      rm -rf "$TMP"
    fi
  fi
  # The consumers' restores extracted this run's unique version into the global packages folder; remove it.
  local id
  for id in pokeclassifier pokeclassifier.torchsharp; do
    if [[ -n "${PKG_CACHE:-}" && -n "${VERSION:-}" && -d "$PKG_CACHE/$id/$VERSION" ]]; then
      rm -rf "${PKG_CACHE:?}/$id/$VERSION"
    fi
  done
  for id in PokeClassifier PokeClassifier.TorchSharp; do
    rm -f "$ROOT/src/$id/obj/Release/$id.${VERSION:-none}.nuspec" "$ROOT/src/$id/obj/Release/$id.${VERSION:-none}.symbols.nuspec"
  done
  exit "$rc"
}
trap finish EXIT

TMP="$(mktemp -d "${TMPDIR:-/tmp}/pokeclassifier-package.XXXXXX")"
LOGS="$TMP/logs"
mkdir -p "$LOGS" "$TMP/feed" "$TMP/images" "$TMP/cache" || exit 1
# Outside the repo: stop MSBuild's upward search so the repo's (or anything else's) build and package-version props don't apply.
echo '<Project />' >"$TMP/Directory.Build.props"
echo '<Project />' >"$TMP/Directory.Build.targets"
echo '<Project />' >"$TMP/Directory.Packages.props"
# The local feed, on top of the sources configured for this user (nuget.org or its mirror).
cat >"$TMP/nuget.config" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="pokeclassifier-local" value="$TMP/feed" />
  </packageSources>
</configuration>
EOF
# Hermetic feature cache: the first run must really featurize through the package's ResNet18 files.
export POKECLASSIFIER_CACHE="$TMP/cache"
unset POKECLASSIFIER_RESNET18_DIR
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
BUILD_FLAGS=(-c Release --disable-build-servers -nologo)
# The images: 4 drawn classes, 4 animations of 4 frames each (no download, no data beside the repository).
if ! run_logged draw-build dotnet build "$ROOT/tests/CacheProbe" "${BUILD_FLAGS[@]}" ||
   ! run_logged draw dotnet "$ROOT/tests/CacheProbe/bin/Release/net10.0/CacheProbe.dll" draw "$TMP/images" 4 4; then
  echo "package: 0 passed, 2 failed"
  exit 1
fi
rm -f "$TMP/images/manifest.csv" "$TMP/images/holdout-front.csv"

PKG_CACHE="$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: *//p')"
PKG_CACHE="${PKG_CACHE%/}"
BASE_VERSION="$(dotnet msbuild "$ROOT/src/PokeClassifier/PokeClassifier.csproj" -getProperty:Version 2>/dev/null | tr -d '[:space:]')"
# A unique prerelease version per run, so no copy of an earlier pack in the global packages folder can be used.
VERSION="${BASE_VERSION:-0.1.0}"
VERSION="${VERSION%%-*}-ci.$(date -u +%Y%m%d%H%M%S).$$"

FAIL_ALL="package: 0 passed, 4 failed"
say "packing PokeClassifier and PokeClassifier.TorchSharp $VERSION"
if ! run_logged pack dotnet pack "$ROOT/src/PokeClassifier" "${BUILD_FLAGS[@]}" -o "$TMP/feed" -p:Version="$VERSION" ||
   ! run_logged pack-torchsharp dotnet pack "$ROOT/src/PokeClassifier.TorchSharp" "${BUILD_FLAGS[@]}" -o "$TMP/feed" -p:Version="$VERSION"; then
  echo "$FAIL_ALL"
  exit 1
fi
pack_ok=1
# check_nupkg ID ENTRY...: the package and its symbols exist, hold ENTRY... and no ONNX file, and carry the MIT license.
check_nupkg() {
  local id="$1" nupkg="$TMP/feed/$1.$VERSION.nupkg" listing entry
  shift
  [[ -f "$nupkg" ]] || { say "missing $nupkg"; pack_ok=0; return; }
  [[ -f "$TMP/feed/$id.$VERSION.snupkg" ]] || { say "missing $id's .snupkg"; pack_ok=0; }
  listing="$(unzip -Z1 "$nupkg")"
  for entry in "$@"; do
    grep -qx "$entry" <<<"$listing" || { say "$id.nupkg lacks $entry"; pack_ok=0; }
  done
  if grep -qiE '\.onnx$' <<<"$listing"; then say "$id.nupkg contains ONNX files (they must come from Microsoft.ML.DnnImageFeaturizer.ResNet18)"; pack_ok=0; fi
  unzip -p "$nupkg" "$id.nuspec" | grep -q '<license type="expression">MIT</license>' || { say "$id.nuspec lacks the MIT license expression"; pack_ok=0; }
  say "$id.nupkg: $(wc -c <"$nupkg") bytes, $(wc -l <<<"$listing") entries"
}
check_nupkg PokeClassifier README.md lib/net10.0/PokeClassifier.dll lib/net10.0/PokeClassifier.xml build/PokeClassifier.props buildTransitive/PokeClassifier.props
check_nupkg PokeClassifier.TorchSharp README.md lib/net10.0/PokeClassifier.TorchSharp.dll lib/net10.0/PokeClassifier.TorchSharp.xml \
  build/PokeClassifier.TorchSharp.props buildTransitive/PokeClassifier.TorchSharp.props build/LibTorchSharpCompat.cs buildTransitive/LibTorchSharpCompat.cs
if [[ $pack_ok == 1 ]]; then
  core_deps="$(unzip -p "$TMP/feed/PokeClassifier.$VERSION.nupkg" PokeClassifier.nuspec | grep -o 'dependency id="[^"]*"')"
  if grep -qiE 'torch|pybridge|purehdf' <<<"$core_deps"; then say "PokeClassifier.nuspec depends on TorchSharp: $(grep -iE 'torch|pybridge' <<<"$core_deps" | tr '\n' ' ')"; pack_ok=0; fi
  torch_deps="$(unzip -p "$TMP/feed/PokeClassifier.TorchSharp.$VERSION.nupkg" PokeClassifier.TorchSharp.nuspec | grep -o 'dependency id="[^"]*" version="[^"]*"')"
  for dep in "PokeClassifier\" version=\"$VERSION" 'TorchSharp"' 'TorchVision"'; do
    grep -q "id=\"$dep" <<<"$torch_deps" || { say "PokeClassifier.TorchSharp.nuspec lacks the dependency $dep"; pack_ok=0; }
  done
  if grep -qiE 'id="(TorchSharp-cpu|TorchSharp-cuda|libtorch)' <<<"$torch_deps"; then say "PokeClassifier.TorchSharp.nuspec depends on a libtorch (the application must choose it)"; pack_ok=0; fi
fi
if [[ $pack_ok != 1 ]]; then
  echo "$FAIL_ALL"
  exit 1
fi

# A console project DIR/NAME.csproj (net10.0, implicit usings, nullable) referencing the packages given as ID=VERSION.
console_project() {
  local dir=$1 name=$2 refs="" ref
  shift 2
  for ref in "$@"; do refs+="    <PackageReference Include=\"${ref%%=*}\" Version=\"${ref#*=}\" />"$'\n'; done
  mkdir -p "$dir"
  {
    printf '<Project Sdk="Microsoft.NET.Sdk">\n  <PropertyGroup>\n    <OutputType>Exe</OutputType>\n    <TargetFramework>net10.0</TargetFramework>\n'
    printf '    <ImplicitUsings>enable</ImplicitUsings>\n    <Nullable>enable</Nullable>\n  </PropertyGroup>\n'
    if [[ -n "$refs" ]]; then printf '  <ItemGroup>\n%s  </ItemGroup>\n' "$refs"; fi
    printf '</Project>\n'
  } >"$dir/$name.csproj"
}

# ---- A: the quick start, from the package ----
check_a() {
  local dir="$TMP/QuickStartConsumer"
  console_project "$dir" QuickStartConsumer
  { cat "$ROOT/samples/QuickStart/Program.cs"; cat "$HERE/consumers/quickstart-expected.cs.in"; } >"$dir/Program.cs"
  run_logged a-add dotnet add "$dir/QuickStartConsumer.csproj" package PokeClassifier --version "$VERSION" || return 1
  run_logged a-build dotnet build "$dir" "${BUILD_FLAGS[@]}" || return 1
  say "A: built ($(grep -c 'warning ' "$LOGS/a-build.log" || true) warning lines)"
  local out="$dir/bin/Release/net10.0"
  # The core package brings no TorchSharp: nothing of it in the restore graph or the output.
  local torch
  torch="$(grep -oiE '"(TorchSharp[^/"]*|libtorch[^/"]*|TorchVision|PokeClassifier\.TorchSharp)/[0-9][^"]*"' "$dir/obj/project.assets.json" | sort -u | tr '\n' ' ')"
  if [[ -n "$torch" ]]; then say "A: the core package brought $torch"; return 1; fi
  if compgen -G "$out/runtimes/*/native/*torch*" >/dev/null || compgen -G "$out/*Torch*.dll" >/dev/null; then say "A: TorchSharp or libtorch files in the output"; return 1; fi
  say "A: no TorchSharp, libtorch, TorchVision or PyBridge in the restore graph or the output ($(du -sh "$out" | cut -f1) build output)"
  local onnx
  for onnx in ResNet18Onnx/ResNet18.onnx ResNetPrepOnnx/ResNetPreprocess.onnx; do
    if [[ ! -s "$out/DnnImageModels/$onnx" ]]; then
      say "A: $out/DnnImageModels/$onnx was not copied by the package's build props"
      return 1
    fi
  done
  say "A: bin/Release/net10.0/DnnImageModels/ResNet18Onnx/ResNet18.onnx present ($(wc -c <"$out/DnnImageModels/ResNet18Onnx/ResNet18.onnx") bytes)"
  local start=$SECONDS
  (cd "$dir" && run_logged a-run dotnet "$out/QuickStartConsumer.dll" "$TMP/images") || return 1
  say "A: quick start ran in $((SECONDS - start)) s"
  local accuracy
  accuracy="$(grep -m1 -E '^[^A-Za-z]*Accuracy[^A-Za-z]+[0-9]' "$LOGS/a-run.log")"
  if [[ -z "$accuracy" ]]; then
    say "A: no accuracy line in the output:"
    sed 's/^/    /' "$LOGS/a-run.log" | head -n 40
    return 1
  fi
  say "A: $accuracy"
  [[ -s "$dir/model.zip" ]] || { say "A: model.zip was not written"; return 1; }
  say "A: model.zip written ($(wc -c <"$dir/model.zip") bytes)"
  [[ -s "$dir/expected.tsv" ]] || { say "A: expected.tsv was not written"; return 1; }
  say "A: last line: $(tail -n 1 "$LOGS/a-run.log")"
}

# ---- B: the saved model with ML.NET only ----
check_b() {
  local dir="$TMP/MLNetOnly" a="$TMP/QuickStartConsumer"
  [[ -s "$a/model.zip" && -s "$a/expected.tsv" ]] || { say "B: needs model.zip and expected.tsv from check A"; return 1; }
  # ImageAnalytics brings SkiaSharp and SkiaSharp.NativeAssets.Linux.NoDependencies 2.88.8 itself; they are pinned to the
  # 2.88.9 the library uses.
  console_project "$dir" MLNetOnly Microsoft.ML=5.0.1 Microsoft.ML.ImageAnalytics=5.0.1 Microsoft.ML.OnnxTransformer=5.0.1 \
    Microsoft.ML.OnnxRuntime=1.31.1 SkiaSharp=2.88.9 SkiaSharp.NativeAssets.Linux.NoDependencies=2.88.9
  cp "$HERE/consumers/MLNetOnly.cs" "$dir/Program.cs"
  run_logged b-build dotnet build "$dir" "${BUILD_FLAGS[@]}" || return 1
  local assets="$dir/obj/project.assets.json"
  if grep -qi '"PokeClassifier/' "$assets"; then say "B: the ML.NET-only project resolved PokeClassifier"; return 1; fi
  if [[ -e "$dir/bin/Release/net10.0/PokeClassifier.dll" ]]; then say "B: PokeClassifier.dll is in the ML.NET-only output"; return 1; fi
  local rc=0
  (cd "$dir" && dotnet "$dir/bin/Release/net10.0/MLNetOnly.dll" "$a/model.zip" "$a/expected.tsv") >"$LOGS/b-run.log" 2>&1 || rc=$?
  sed 's/^/    /' "$LOGS/b-run.log" | tail -n 20
  local agreement
  agreement="$(grep -m1 '^agreement: ' "$LOGS/b-run.log")"
  say "B: ${agreement:-no agreement line}"
  [[ $rc == 0 && -n "$agreement" ]]
}

# ---- C: the TorchSharp package, with the libtorch the application chooses ----
check_c() {
  local dir="$TMP/TorchSharpConsumer"
  console_project "$dir" TorchSharpConsumer
  cp "$HERE/consumers/TorchSharpConsumer.cs" "$dir/Program.cs"
  run_logged c-add dotnet add "$dir/TorchSharpConsumer.csproj" package PokeClassifier.TorchSharp --version "$VERSION" || return 1
  run_logged c-add-cpu dotnet add "$dir/TorchSharpConsumer.csproj" package TorchSharp-cpu --version 0.107.0 || return 1
  run_logged c-build dotnet build "$dir" "${BUILD_FLAGS[@]}" || return 1
  local out="$dir/bin/Release/net10.0"
  [[ -s "$out/DnnImageModels/ResNet18Onnx/ResNet18.onnx" ]] || { say "C: the ResNet18 files were not copied (PokeClassifier.props, through PokeClassifier.TorchSharp)"; return 1; }
  compgen -G "$out/runtimes/linux-x64/native/libtorch*.so" >/dev/null || { say "C: no libtorch in the output"; return 1; }
  local patch
  patch="$(grep -m1 -oE 'libLibTorchSharp.so: [a-z ]+' "$LOGS/c-build.log" || true)"
  say "C: built ($(du -sh "$out" | cut -f1) build output); the package's LibTorchSharp step: ${patch:-no message}"
  [[ -n "$patch" ]] || { say "C: the package's build props did not run the LibTorchSharp step"; return 1; }
  (cd "$dir" && run_logged c-run dotnet "$out/TorchSharpConsumer.dll" "$TMP/images" "$dir/torch-model.zip") || return 1
  local loaded
  loaded="$(grep -m1 '^loaded: TorchSharp' "$LOGS/c-run.log" || true)"
  say "C: $(grep -m1 -E '^[^A-Za-z]*Accuracy[^A-Za-z]+[0-9]' "$LOGS/c-run.log" || echo 'no accuracy line')"
  say "C: ${loaded:-the saved TorchSharp model was not loaded back}"
  [[ -n "$loaded" && -s "$dir/torch-model.zip" ]]
}

# ---- D: TorchSharp features from the core package alone ----
check_d() {
  local dir="$TMP/CoreOnly" model="$TMP/TorchSharpConsumer/torch-model.zip"
  [[ -s "$model" ]] || { say "D: needs torch-model.zip from check C"; return 1; }
  console_project "$dir" CoreOnly "PokeClassifier=$VERSION"
  cp "$HERE/consumers/CoreOnly.cs" "$dir/Program.cs"
  run_logged d-build dotnet build "$dir" "${BUILD_FLAGS[@]}" || return 1
  if grep -qiE '"(TorchSharp|PokeClassifier\.TorchSharp)/' "$dir/obj/project.assets.json"; then say "D: the core-only project resolved TorchSharp"; return 1; fi
  local rc=0
  (cd "$dir" && dotnet "$dir/bin/Release/net10.0/CoreOnly.dll" "$TMP/images" "$model") >"$LOGS/d-run.log" 2>&1 || rc=$?
  grep -E '^(ok|FAIL|core-only)|xception' "$LOGS/d-run.log" | cut -c1-400 | sed 's/^/    /'
  [[ $rc == 0 ]] && grep -q '^core-only: 0 failed' "$LOGS/d-run.log"
}

for check in a b c d; do
  if "check_$check"; then
    passed=$((passed + 1))
    say "check ${check^^}: passed"
  else
    failed=$((failed + 1))
    say "check ${check^^}: FAILED"
  fi
done

echo "package: $passed passed, $failed failed"
[[ $failed == 0 ]]
