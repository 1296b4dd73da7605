// Reads media's JoinInfo ({"meeting": …, "attendee": …}) on stdin, builds the Chime SDK's
// MeetingSessionConfiguration from it exactly as a client does, and prints what the SDK
// read back: the ids, the join token and the media URLs it will connect to.
const { MeetingSessionConfiguration } = require("amazon-chime-sdk-js");

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const info = JSON.parse(input);
  const config = new MeetingSessionConfiguration({ Meeting: info.meeting }, { Attendee: info.attendee });
  process.stdout.write(
    JSON.stringify({
      meetingId: config.meetingId,
      externalMeetingId: config.externalMeetingId,
      attendeeId: config.credentials.attendeeId,
      externalUserId: config.credentials.externalUserId,
      joinToken: config.credentials.joinToken,
      audioHostURL: config.urls.audioHostURL,
      signalingURL: config.urls.signalingURL,
      turnControlURL: config.urls.turnControlURL,
      eventIngestionURL: config.urls.eventIngestionURL,
    }),
  );
});
