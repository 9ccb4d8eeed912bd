# The master user's credentials in the JSON vcfctl --db-secret-id reads
# (username, password, host, port, dbname), encrypted with the customer key.
resource "aws_secretsmanager_secret" "master" {
  name                    = "${var.name}/master"
  description             = "RDS master user of ${var.name} (vcfctl db install --db-secret-id)"
  kms_key_id              = aws_kms_key.phi.arn
  recovery_window_in_days = 30
  tags                    = var.tags
}

resource "aws_secretsmanager_secret_version" "master" {
  secret_id = aws_secretsmanager_secret.master.id

  secret_string = jsonencode({
    engine   = "postgres"
    username = aws_db_instance.this.username
    password = random_password.master.result
    host     = aws_db_instance.this.address
    port     = aws_db_instance.this.port
    dbname   = aws_db_instance.this.db_name
  })
}
