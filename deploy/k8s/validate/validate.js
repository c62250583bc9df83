#!/usr/bin/env node
// Validates Kubernetes manifests against the API's JSON schemas (kubernetes-models, and
// @kubernetes-models/prometheus-operator for the PodMonitor). Reads YAML documents - the output
// of `kustomize build` - from the files named on the command line, or stdin; prints one line
// per object and exits 1 when any is invalid or of a kind it has no schema for.
"use strict";
const fs = require("fs");
const yaml = require("js-yaml");

function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const candidates = [
    group ? `kubernetes-models/${group}/${version}/${kind}` : `kubernetes-models/${version}/${kind}`,
    `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`,
  ];
  for (const path of candidates) {
    try {
      return require(path)[kind];
    } catch (error) {
      if (error.code !== "MODULE_NOT_FOUND" && error.code !== "ERR_PACKAGE_PATH_NOT_EXPORTED") {
        throw error;
      }
    }
  }
  return undefined;
}

const inputs = process.argv.length > 2 ? process.argv.slice(2) : ["/dev/stdin"];
let failures = 0;
let objects = 0;
for (const input of inputs) {
  for (const doc of yaml.loadAll(fs.readFileSync(input, "utf8"))) {
    if (doc === null || doc === undefined) continue;
    objects++;
    const name = `${doc.kind}/${doc.metadata && doc.metadata.name} (${doc.apiVersion})`;
    const Model = modelFor(doc.apiVersion || "", doc.kind || "");
    if (Model === undefined) {
      console.log(`INVALID ${name}: no schema for this apiVersion and kind`);
      failures++;
      continue;
    }
    try {
      new Model(doc).validate();
      console.log(`valid   ${name}`);
    } catch (error) {
      console.log(`INVALID ${name}: ${error.message}`);
      failures++;
    }
  }
}
console.log(`${objects} objects, ${failures} invalid`);
process.exit(failures > 0 || objects === 0 ? 1 : 0);
