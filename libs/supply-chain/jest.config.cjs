const { projectConfig } = require('../../jest.preset.js');

module.exports = projectConfig(__dirname, 'supply-chain');
