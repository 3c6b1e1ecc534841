/**
 * CloudWatch alarms the tests create in moto. moto evaluates no alarm: one keeps the state it is set to
 * (INSUFFICIENT_DATA until then), so a test decides what the release or the check sees.
 */
import { type CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand, type StateValue } from '@aws-sdk/client-cloudwatch';

/** An alarm named `name` on the targets' 5xx count (over 10 in a minute), set to `state` when one is given. */
export async function putTargetErrorAlarm(cloudwatch: CloudWatchClient, name: string, state?: { value: StateValue; reason: string }): Promise<void> {
  await cloudwatch.send(
    new PutMetricAlarmCommand({
      AlarmName: name,
      Namespace: 'AWS/ApplicationELB',
      MetricName: 'HTTPCode_Target_5XX_Count',
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 10,
      ComparisonOperator: 'GreaterThanThreshold',
    }),
  );
  if (state) await cloudwatch.send(new SetAlarmStateCommand({ AlarmName: name, StateValue: state.value, StateReason: state.reason }));
}
