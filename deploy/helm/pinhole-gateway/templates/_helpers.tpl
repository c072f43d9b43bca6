{{- define "pinhole-gateway.name" -}}{{ .Release.Name }}-pinhole-gateway{{- end -}}
{{- define "pinhole-gateway.labels" -}}
app.kubernetes.io/name: pinhole-gateway
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "pinhole-gateway.secret" -}}{{ default (include "pinhole-gateway.name" .) .Values.existingSecret }}{{- end -}}
