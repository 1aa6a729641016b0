{{/*
Tenants' secrets for subprocess modules (moduleHost.tenantSecrets, docs/modules.md): each tenant's
existing Secret mounted read-only at /etc/aion/module-secrets/<tenant> in every pod that runs a
module host, AION_MODULE_HOST_SECRETS_DIR naming the directory. Volume names by position (tenant
ids need not be DNS labels), in the tenants' sorted order.
*/}}
{{- define "aion.moduleSecrets.dir" -}}/etc/aion/module-secrets{{- end -}}

{{- define "aion.moduleSecrets.volumes" -}}
{{- $secrets := .Values.moduleHost.tenantSecrets | default dict -}}
{{- if $secrets -}}
{{- range $i, $tenant := keys $secrets | sortAlpha }}
- name: module-secrets-{{ $i }}
  secret: { secretName: {{ index $secrets $tenant | quote }}, defaultMode: 288 }
{{- end }}
{{- else -}}
[]
{{- end -}}
{{- end -}}

{{- define "aion.moduleSecrets.mounts" -}}
{{- $secrets := .Values.moduleHost.tenantSecrets | default dict -}}
{{- $dir := include "aion.moduleSecrets.dir" . -}}
{{- if $secrets -}}
{{- range $i, $tenant := keys $secrets | sortAlpha }}
- { name: module-secrets-{{ $i }}, mountPath: {{ printf "%s/%s" $dir $tenant | quote }}, readOnly: true }
{{- end }}
{{- else -}}
[]
{{- end -}}
{{- end -}}
