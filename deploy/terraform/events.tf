# Chime's meeting and media pipeline events reach media through EventBridge and one SQS
# queue (MEDIA_EVENTS_QUEUE_NAME), long-polled by media; a message media cannot handle
# after five receives moves to the dead-letter queue instead of circling for ever.

resource "aws_sqs_queue" "chime_events_dlq" {
  name                      = "${local.name}-chime-events-dlq"
  message_retention_seconds = 1209600
  kms_master_key_id         = aws_kms_key.platform.arn
}

resource "aws_sqs_queue" "chime_events" {
  name                       = "${local.name}-chime-events"
  visibility_timeout_seconds = 60
  message_retention_seconds  = 345600
  receive_wait_time_seconds  = 20
  kms_master_key_id          = aws_kms_key.platform.arn

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.chime_events_dlq.arn
    maxReceiveCount     = 5
  })
}

resource "aws_cloudwatch_event_rule" "chime" {
  name        = "${local.name}-chime-state-changes"
  description = "Chime SDK meeting and media pipeline state changes, for media"

  event_pattern = jsonencode({
    source      = ["aws.chime"]
    detail-type = ["Chime Meeting State Change", "Chime Media Pipeline State Change"]
  })
}

resource "aws_cloudwatch_event_target" "chime" {
  rule      = aws_cloudwatch_event_rule.chime.name
  target_id = "media-queue"
  arn       = aws_sqs_queue.chime_events.arn

  # An event EventBridge cannot deliver (queue unavailable, key denied) is kept, not dropped.
  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }

  dead_letter_config {
    arn = aws_sqs_queue.chime_events_dlq.arn
  }
}

# Only this rule may send into the queue.
data "aws_iam_policy_document" "chime_events_queue" {
  statement {
    sid       = "EventBridgeChimeRuleSends"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.chime_events.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.chime.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "chime_events" {
  queue_url = aws_sqs_queue.chime_events.id
  policy    = data.aws_iam_policy_document.chime_events_queue.json
}

# The dead-letter queue takes what media gave up on (redrive) and what the rule could
# not deliver.
data "aws_iam_policy_document" "chime_events_dlq" {
  statement {
    sid       = "EventBridgeChimeRuleDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.chime_events_dlq.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.chime.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "chime_events_dlq" {
  queue_url = aws_sqs_queue.chime_events_dlq.id
  policy    = data.aws_iam_policy_document.chime_events_dlq.json
}
