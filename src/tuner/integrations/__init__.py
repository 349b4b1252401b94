"""Where users already look, and where they deploy: MLflow tracking of every trial (mlflow_tracking) and Kubeflow
Katib Experiments written from a sweep file (katib) and read back (katib_read)."""
