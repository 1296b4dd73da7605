# What Prometheus cannot see, watched by CloudWatch and sent to one SNS topic (subscribe the
# on-call pager to it). Each alarm is named like its section of deploy/RUNBOOK.md
# (tests/deploy/test_alerts.py holds them to it).

resource "aws_sns_topic" "alerts" {
  name              = "${local.name}-alerts"
  kms_master_key_id = aws_kms_key.platform.arn
}

locals {
  alarms = {
    # Chime events neither media nor EventBridge could handle.
    ChimeEventsDeadLettered = {
      namespace   = "AWS/SQS"
      metric      = "ApproximateNumberOfMessagesVisible"
      dimensions  = { QueueName = aws_sqs_queue.chime_events_dlq.name }
      statistic   = "Maximum"
      comparison  = "GreaterThanThreshold"
      threshold   = 0
      description = "Chime events are waiting in the dead-letter queue"
    }
    DatabaseStorageLow = {
      namespace   = "AWS/RDS"
      metric      = "FreeStorageSpace"
      dimensions  = { DBInstanceIdentifier = aws_db_instance.primary.identifier }
      statistic   = "Minimum"
      comparison  = "LessThanThreshold"
      threshold   = var.db_allocated_storage * 1073741824 * 0.1
      description = "Less than 10% of the database's storage is free"
    }
    ReplicaLagHigh = {
      namespace   = "AWS/RDS"
      metric      = "ReplicaLag"
      dimensions  = { DBInstanceIdentifier = aws_db_instance.replica.identifier }
      statistic   = "Maximum"
      comparison  = "GreaterThanThreshold"
      threshold   = 300
      description = "The read replica is more than five minutes behind the primary"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "platform" {
  for_each = local.alarms

  alarm_name          = "${local.name}-${each.key}"
  alarm_description   = "${each.value.description} (deploy/RUNBOOK.md)"
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  comparison_operator = each.value.comparison
  threshold           = each.value.threshold
  period              = 300
  evaluation_periods  = 2
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
}
