#!/usr/bin/env bash
# Package checks: packs PokeClassifier into a temporary local feed, then
#   A. quick start from the package: a fresh console project outside the repo references PokeClassifier from that feed, runs
#      samples/QuickStart/Program.cs on 4 classes of drawn images (tests/CacheProbe draw), and must print an accuracy line, write model.zip and get
#      bin/.../DnnImageModels/ResNet18Onnx/ResNet18.onnx through the package's build props;
#   B. ML.NET only: a second fresh project referencing only ML.NET packages loads check A's model.zip with MLContext.Model.Load
#      and must predict the same labels as the library did for the same images.
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
  if [[ -n "${PKG_CACHE:-}" && -n "${VERSION:-}" && -d "$PKG_CACHE/pokeclassifier/$VERSION" ]]; then
    rm -rf "${PKG_CACHE:?}/pokeclassifier/$VERSION"
  fi
  rm -f "$ROOT/src/PokeClassifier/obj/Release/PokeClassifier.${VERSION:-none}.nuspec" "$ROOT/src/PokeClassifier/obj/Release/PokeClassifier.${VERSION:-none}.symbols.nuspec"
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

say "packing PokeClassifier $VERSION"
if ! run_logged pack dotnet pack "$ROOT/src/PokeClassifier" "${BUILD_FLAGS[@]}" -o "$TMP/feed" -p:Version="$VERSION"; then
  echo "package: 0 passed, 2 failed"
  exit 1
fi
NUPKG="$TMP/feed/PokeClassifier.$VERSION.nupkg"
pack_ok=1
[[ -f "$NUPKG" ]] || { say "missing $NUPKG"; pack_ok=0; }
[[ -f "$TMP/feed/PokeClassifier.$VERSION.snupkg" ]] || { say "missing the .snupkg"; pack_ok=0; }
if [[ $pack_ok == 1 ]]; then
  listing="$(unzip -Z1 "$NUPKG")"
  for entry in README.md lib/net10.0/PokeClassifier.dll lib/net10.0/PokeClassifier.xml build/PokeClassifier.props buildTransitive/PokeClassifier.props; do
    grep -qx "$entry" <<<"$listing" || { say "nupkg lacks $entry"; pack_ok=0; }
  done
  if grep -qiE '\.onnx$' <<<"$listing"; then say "nupkg contains ONNX files (they must come from Microsoft.ML.DnnImageFeaturizer.ResNet18)"; pack_ok=0; fi
  unzip -p "$NUPKG" PokeClassifier.nuspec | grep -q '<license type="expression">MIT</license>' || { say "nuspec lacks the MIT license expression"; pack_ok=0; }
  say "nupkg: $(wc -c <"$NUPKG") bytes, $(wc -l <<<"$listing") entries"
fi
if [[ $pack_ok != 1 ]]; then
  echo "package: 0 passed, 2 failed"
  exit 1
fi

# ---- A: the quick start, from the package ----
check_a() {
  local dir="$TMP/QuickStartConsumer"
  mkdir -p "$dir"
  cat >"$dir/QuickStartConsumer.csproj" <<'EOF'
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>enable</Nullable>
  </PropertyGroup>
</Project>
EOF
  { cat "$ROOT/samples/QuickStart/Program.cs"; cat "$HERE/consumers/quickstart-expected.cs.in"; } >"$dir/Program.cs"
  run_logged a-add dotnet add "$dir/QuickStartConsumer.csproj" package PokeClassifier --version "$VERSION" || return 1
  run_logged a-build dotnet build "$dir" "${BUILD_FLAGS[@]}" || return 1
  say "A: built ($(grep -c 'warning ' "$LOGS/a-build.log" || true) warning lines)"
  local out="$dir/bin/Release/net10.0"
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
  mkdir -p "$dir"
  # ImageAnalytics brings SkiaSharp and SkiaSharp.NativeAssets.Linux.NoDependencies 2.88.8 itself; they are pinned to the
  # 2.88.9 the library uses.
  cat >"$dir/MLNetOnly.csproj" <<'EOF'
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>enable</Nullable>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Microsoft.ML" Version="5.0.1" />
    <PackageReference Include="Microsoft.ML.ImageAnalytics" Version="5.0.1" />
    <PackageReference Include="Microsoft.ML.OnnxTransformer" Version="5.0.1" />
    <PackageReference Include="Microsoft.ML.OnnxRuntime" Version="1.31.1" />
    <PackageReference Include="SkiaSharp" Version="2.88.9" />
    <PackageReference Include="SkiaSharp.NativeAssets.Linux.NoDependencies" Version="2.88.9" />
  </ItemGroup>
</Project>
EOF
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

for check in a b; do
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
