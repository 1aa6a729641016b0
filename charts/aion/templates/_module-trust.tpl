{{/*
The module hosts' trust policy (moduleHost.trustPolicy, docs/modules.md): which signing keys,
keyless identities and trusted roots each tenant accepts for packages installed from a registry.
Mounted read-only at /etc/aion/module-trust in every pod that runs a module host (each pool's, and
the co-located core), AION_MODULE_HOST_TRUST_POLICY naming the file. Exactly one source: the
chart's ConfigMap (policy, with the trusted_root.json files it names in trustedRoots), or an
existing ConfigMap or Secret.
*/}}
{{- define "aion.moduleTrust.dir" -}}/etc/aion/module-trust{{- end -}}

{{/* "chart", "configMap", "secret" or "" (none: every registry install is refused); fails on two. */}}
{{- define "aion.moduleTrust.source" -}}
{{- $tp := .Values.moduleHost.trustPolicy -}}
{{- $set := list -}}
{{- if $tp.policy }}{{ $set = append $set "policy" }}{{ end -}}
{{- if $tp.existingConfigMap }}{{ $set = append $set "existingConfigMap" }}{{ end -}}
{{- if $tp.existingSecret }}{{ $set = append $set "existingSecret" }}{{ end -}}
{{- if gt (len $set) 1 -}}
{{- fail (printf "moduleHost.trustPolicy: set exactly one of policy, existingConfigMap, existingSecret (got %s)" (join ", " $set)) -}}
{{- end -}}
{{- if and $tp.trustedRoots (not $tp.policy) -}}
{{- fail "moduleHost.trustPolicy.trustedRoots: only with moduleHost.trustPolicy.policy (an existing ConfigMap or Secret carries its trusted roots itself)" -}}
{{- end -}}
{{- if $tp.policy -}}
{{- /* Every trusted_root the policy names must be one of trustedRoots, or the module hosts stop at startup. */ -}}
{{- $named := list -}}
{{- with $tp.policy.keyless }}{{ with .trusted_root }}{{ $named = append $named . }}{{ end }}{{ end -}}
{{- range $tenant, $p := ($tp.policy.tenants | default dict) }}{{ with $p.trusted_root }}{{ $named = append $named . }}{{ end }}{{ end -}}
{{- range $named | uniq -}}
{{- if not (hasKey ($tp.trustedRoots | default dict) .) -}}
{{- fail (printf "moduleHost.trustPolicy.policy names trusted_root %q, which is not one of moduleHost.trustPolicy.trustedRoots (%s)" . (keys ($tp.trustedRoots | default dict) | sortAlpha | join ", ")) -}}
{{- end -}}
{{- end -}}
{{- if hasKey ($tp.trustedRoots | default dict) "trust-policy.yaml" -}}
{{- fail "moduleHost.trustPolicy.trustedRoots: trust-policy.yaml is the policy's own file name" -}}
{{- end -}}
chart
{{- else if $tp.existingConfigMap -}}
configMap
{{- else if $tp.existingSecret -}}
secret
{{- end -}}
{{- end -}}

{{/* The chart ConfigMap's key for a trusted root's path (keys cannot hold "/"). */}}
{{- define "aion.moduleTrust.rootKey" -}}
{{- if contains "/" . -}}
root-{{ sha256sum . | trunc 12 }}-{{ base . }}
{{- else -}}
{{ . }}
{{- end -}}
{{- end -}}

{{/* The policy file's path in the pod. */}}
{{- define "aion.moduleTrust.file" -}}
{{- $source := include "aion.moduleTrust.source" . -}}
{{ include "aion.moduleTrust.dir" . }}/{{ ternary "trust-policy.yaml" .Values.moduleHost.trustPolicy.policyKey (eq $source "chart") }}
{{- end -}}

{{/* The volume (a YAML list, empty without a policy). */}}
{{- define "aion.moduleTrust.volumes" -}}
{{- $tp := .Values.moduleHost.trustPolicy -}}
{{- $source := include "aion.moduleTrust.source" . -}}
{{- if eq $source "chart" -}}
- name: module-trust
  configMap:
    name: {{ include "aion.fullname" . }}-module-trust
    defaultMode: 292
    items:
      - { key: trust-policy.yaml, path: trust-policy.yaml }
      {{- range $path, $_ := ($tp.trustedRoots | default dict) }}
      - { key: {{ include "aion.moduleTrust.rootKey" $path | quote }}, path: {{ $path | quote }} }
      {{- end }}
{{- else if eq $source "configMap" -}}
- name: module-trust
  configMap: { name: {{ $tp.existingConfigMap | quote }}, defaultMode: 292 }
{{- else if eq $source "secret" -}}
- name: module-trust
  secret: { secretName: {{ $tp.existingSecret | quote }}, defaultMode: 292 }
{{- else -}}
[]
{{- end -}}
{{- end -}}

{{- define "aion.moduleTrust.mounts" -}}
{{- if include "aion.moduleTrust.source" . -}}
- { name: module-trust, mountPath: {{ include "aion.moduleTrust.dir" . }}, readOnly: true }
{{- else -}}
[]
{{- end -}}
{{- end -}}

{{/*
The checksum annotation that rolls the module hosts when their trust changes (read once at
startup). An existing ConfigMap or Secret is outside the chart: only a change of its name or key
rolls them; after editing its content, `kubectl rollout restart` the module-host Deployments.
*/}}
{{- define "aion.moduleTrust.annotations" -}}
{{- $tp := .Values.moduleHost.trustPolicy -}}
{{- $source := include "aion.moduleTrust.source" . -}}
{{- if eq $source "chart" -}}
checksum/module-trust: {{ include (print .Template.BasePath "/module-trust.yaml") . | sha256sum }}
{{- else if $source -}}
checksum/module-trust: {{ printf "%s/%s/%s" $source (default $tp.existingSecret $tp.existingConfigMap) $tp.policyKey | sha256sum }}
{{- else -}}
{}
{{- end -}}
{{- end -}}
